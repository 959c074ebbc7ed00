/** Placeholder until the kernels land (being written now). */
export function registerWasmGradientKernels(): void {}
