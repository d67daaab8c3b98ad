/**
 * The drawings' worker thread: svgo's normalisation of large SVGs (svg-normalise.ts), which is
 * synchronous and takes about a second per 2 MB of paths, runs here while the build's thread
 * parses chapters and prints. Messages in and out are plain data.
 */
import {parentPort} from 'node:worker_threads';
import {normaliseOnce, type SvgReply, type SvgRequest} from './svg-normalise.ts';


const port = parentPort!;
port.on('message', ({id, text}: SvgRequest) => {
  try {
    const {svg, needs, size} = normaliseOnce(text);
    port.postMessage({id, svg, needs: [...needs], ...(size ? {size} : {})} satisfies SvgReply);
  } catch (error) {
    port.postMessage({id, error: (error as Error).message} satisfies SvgReply);
  }
});
