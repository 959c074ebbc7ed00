/**
 * The NeurolensChannelStats kernel alone (run: `npx tsx bench/channel-stats.ts [--backend wasm|cpu]`):
 * nanoseconds per activation value on MobileNetV2-shaped batches [16, H, W, C] (the largest
 * expand/depthwise outputs of each resolution), median of 5 calls per shape, 3 rounds.
 * The figures in src/model/channel-stats-simd.ts (per tile size) and bench/RESULTS.md come from it.
 */
import { parseArgs } from 'node:util';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { tf } from '../src/model/tf.js';
import { channelStats, registerChannelStatsKernel } from '../src/model/channel-stats-kernel.js';

const { values: opt } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' } } });
await setupBackend(opt.backend as BackendChoice);
registerChannelStatsKernel();
const shapes = [[16, 112, 112, 96], [16, 56, 56, 144], [16, 28, 28, 192], [16, 14, 14, 576], [16, 7, 7, 960]];
const xs = shapes.map((s) => tf.randomUniform(s, -1, 3));
console.log(`backend ${tf.getBackend()}; ns per value for ${shapes.map((s) => `[${s.join(',')}]`).join(' ')}`);
for (let round = 0; round < 3; round++) {
  const ns = xs.map((x) => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const { stats, argmax } = channelStats(x);
      times.push(performance.now() - t0);
      tf.dispose([stats, argmax]);
    }
    times.sort((a, b) => a - b);
    return ((times[2] / x.size) * 1e6).toFixed(2);
  });
  console.log(`round ${round + 1}: ${ns.join(' ')}`);
}
tf.dispose(xs);
