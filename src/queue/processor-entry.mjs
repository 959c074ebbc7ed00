// The file BullMQ's sandbox loads in each processor thread. It registers tsx's loader in this
// thread first (a worker thread's `--import` does not reach a dynamic import of .ts under Node 20),
// then hands over to the TypeScript processor, as bin/neurolens.js does for the CLI.
import { register } from 'tsx/esm/api';

register();
const { default: processor } = await import('./processor.ts');
export default processor;
