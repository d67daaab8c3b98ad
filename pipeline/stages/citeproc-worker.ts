/**
 * The bibliography's worker thread: reads the BibTeX and builds the citation style while the
 * build's thread parses the chapters, then formats every citation and the bibliography while
 * the build's thread checks the images. Messages in and out are plain data.
 */
import {parentPort, workerData} from 'node:worker_threads';
import {parseBibliography, prepareStyle, formatReferences, type CitationRequest} from './citeproc.ts';

export interface WorkerInput {
  module: string;
  sources: {text: string}[];
  style: string;
  lang: string;
}

export type WorkerReply =
  | {type: 'parsed'; parsed: ReturnType<typeof parseBibliography>}
  | {type: 'formatted'; references: ReturnType<typeof formatReferences>}
  | {type: 'failed'; message: string};

const input = workerData as WorkerInput;
const port = parentPort!;

try {
  const parsed = parseBibliography(input.sources);
  port.postMessage({type: 'parsed', parsed} satisfies WorkerReply);
  if (parsed.csl.length > 0) prepareStyle(parsed.csl, input.style, input.lang);
  port.on('message', (message: {requests: CitationRequest[]; cited: string[]; withBibliography: boolean}) => {
    try {
      const references = formatReferences(parsed.csl, input.style, input.lang, message.requests, message.cited, message.withBibliography);
      port.postMessage({type: 'formatted', references} satisfies WorkerReply);
    } catch (error) {
      port.postMessage({type: 'failed', message: (error as Error).message} satisfies WorkerReply);
    }
  });
} catch (error) {
  port.postMessage({type: 'failed', message: (error as Error).message} satisfies WorkerReply);
}
