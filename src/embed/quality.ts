/**
 * Layout quality: leave-one-out k-NN classification accuracy (majority vote of the k nearest
 * other points, ties to the smallest label). Comparing it in the 2-D layout and in the original
 * space measures how much class-neighbourhood structure the embedding kept (e.g. Kobak & Berens
 * 2019, "The art of using t-SNE for single-cell transcriptomics", use kNN accuracy/preservation).
 */
import { knn } from './knn.js';
import type { Points } from './validate.js';

export function knnAccuracy(points: Points, labels: ArrayLike<number>, k = 10): number {
  const g = knn(points, k);
  let correct = 0;
  const votes = new Map<number, number>();
  for (let i = 0; i < points.n; i++) {
    votes.clear();
    for (let t = 0; t < k; t++) {
      const l = labels[g.indices[i * k + t]];
      votes.set(l, (votes.get(l) ?? 0) + 1);
    }
    let best = -1, bestC = -1;
    for (const [l, c] of votes) if (c > bestC || (c === bestC && l < best)) (best = l), (bestC = c);
    if (best === labels[i]) correct++;
  }
  return correct / Math.max(1, points.n);
}
