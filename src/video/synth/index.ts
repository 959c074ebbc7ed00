/** Synthetic action-recognition videos (`neurolens make-actions`) and the reusable MP4 writer. */
export { ACTION_CLASSES, INSTRUMENT, type ActionClass, type MotionKind } from './classes.js';
export { makeActions, datasetVideo, videoUri, MAKE_ACTIONS_DEFAULTS, type MakeActionsOptions, type MakeActionsEvent, type MakeActionsSummary } from './dataset.js';
export { sampleVideo, poseAt, type VideoSpec, type Motion } from './video-spec.js';
export { renderFrames } from './render.js';
export { writeVideo, ffmpegArgs, type VideoWriteOptions, type VideoWriteResult } from './write-video.js';
export { videoSeed, type Split } from './seed.js';
export { SHAPES, GENERIC_SHAPES, extents, type Shape } from './shapes.js';
export { drawShape, type Pose } from './raster.js';
export { hsvToRgb, rgbToHsv, type Rgb } from './colour.js';
