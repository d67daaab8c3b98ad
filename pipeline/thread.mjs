// Starts a worker thread on a TypeScript module: worker threads do not inherit the module hooks
// that let Node run TypeScript (tsx), so each worker registers them before loading its module
// (`workerData.module`, a file URL). Used by pipeline/stages/bibliography.ts.
import {register} from 'tsx/esm/api';
import {workerData} from 'node:worker_threads';

register();
await import(workerData.module);
