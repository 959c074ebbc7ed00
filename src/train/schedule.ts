/**
 * Learning-rate schedule for the demo run. Cosine decay (Loshchilov & Hutter, "SGDR", ICLR 2017,
 * eq. 5 without restarts): lr(t) = lr_min + (lr0 - lr_min) * (1 + cos(pi * t / T)) / 2.
 * Ending the run at a small rate settles the weights, which gains most of an epoch's worth of
 * test accuracy over a constant rate for the same number of steps.
 */
import { tfc } from '../model/tf.js';

export type LrSchedule = 'cosine' | 'constant';
export const LR_SCHEDULES: LrSchedule[] = ['cosine', 'constant'];

export function learningRateAt(schedule: LrSchedule, base: number, step: number, totalSteps: number, floor = base * 0.02): number {
  if (schedule === 'constant' || totalSteps <= 0) return base;
  const t = Math.min(1, step / totalSteps);
  return floor + ((base - floor) * (1 + Math.cos(Math.PI * t))) / 2;
}

/** Adam whose rate can change between steps (tfjs reads `learningRate` at each update). */
export class ScheduledAdam extends tfc.AdamOptimizer {
  constructor(learningRate: number) {
    // The tf.train.adam defaults (Kingma & Ba 2015): beta1 0.9, beta2 0.999.
    super(learningRate, 0.9, 0.999);
  }

  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  getLearningRate(): number {
    return this.learningRate;
  }
}
