/** Attribution methods and activation maximization (src/explain/). */
export * from './target.js';
export * from './forward.js';
export * from './input.js';
export * from './occlusion.js';
export * from './saliency.js';
export * from './guided-backprop.js';
export * from './gradcam.js';
export * from './integrated-gradients.js';
export * from './render.js';
export * from './explain.js';
export * from './occlusion-map.js';
export * from './actmax.js';
