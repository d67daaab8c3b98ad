/**
 * The bibliography's worker thread: reads the BibTeX and builds the citation style while the
 * build's thread parses the chapters, then formats every citation and the bibliography while
 * the build's thread checks the images. Messages in and out are plain data.
 */
import {parentPort, workerData} from 'node:worker_threads';
import {parseBibliography, prepareStyle, citeprocFormat, registerAhead, type CitationRequest, type Registry} from './citeproc.ts';

export interface WorkerInput {
  /** The module thread.mjs loads through tsx (when the pipeline runs from source). */
  module?: string;
  sources: {text: string}[];
  style: string;
  lang: string;
}

export type WorkerRequest =
  | {type: 'expect'; cited: string[]; requests: CitationRequest[]}
  | {type: 'format'; requests: CitationRequest[]; cited: string[]; withBibliography: boolean};

export type WorkerReply =
  | {type: 'parsed'; parsed: ReturnType<typeof parseBibliography>}
  | {type: 'formatted'; references: ReturnType<typeof citeprocFormat>}
  | {type: 'failed'; message: string};

const input = workerData as WorkerInput;
const port = parentPort!;

try {
  const parsed = parseBibliography(input.sources);
  port.postMessage({type: 'parsed', parsed} satisfies WorkerReply);
  if (parsed.csl.length > 0) prepareStyle(parsed.csl, input.style, input.lang);
  let ahead: Registry | undefined;
  port.on('message', (message: WorkerRequest) => {
    if (message.type === 'expect') {
      // Registered while the build's thread parses; a wrong guess costs only this thread's time.
      try {
        ahead = parsed.csl.length > 0 ? registerAhead(parsed.csl, input.style, input.lang, message.cited, message.requests) : undefined;
      } catch {
        ahead = undefined;
      }
      return;
    }
    try {
      const references = citeprocFormat(parsed.csl, input.style, input.lang, message.requests, message.cited, message.withBibliography, ahead);
      port.postMessage({type: 'formatted', references} satisfies WorkerReply);
    } catch (error) {
      port.postMessage({type: 'failed', message: (error as Error).message} satisfies WorkerReply);
    }
  });
} catch (error) {
  port.postMessage({type: 'failed', message: (error as Error).message} satisfies WorkerReply);
}
