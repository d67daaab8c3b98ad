/**
 * Progress on stderr. On a terminal: a live list of stages, each with a spinner while it runs
 * and its time when done (ora). In CI (`CI` set) or when stderr is not a terminal: one plain
 * line per finished stage, nothing that moves. `--quiet` prints neither.
 */
import ora, {type Ora} from 'ora';

export interface Progress {
  /** build()'s onStage callback. */
  onStage: (stage: string, event: 'start' | 'end', ms?: number, detail?: string) => void;
  /** A line of output that is not a stage (kept clear of the spinner). */
  line: (text: string) => void;
  /** Stops any spinner (after an error, an interrupt or the end). */
  stop: () => void;
}

const LABELS: Record<string, string> = {
  load: 'read and parse the manuscript',
  paginate: 'lay out the print pages',
  pdf: 'print the PDF',
  epub: 'package the EPUB',
  write: 'write the outputs',
};

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** True when the stream is a terminal of known width and nothing says this is CI or a dumb terminal. */
export function isInteractive(stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI.toLowerCase() !== 'false';
  return Boolean(stream.isTTY) && (stream.columns ?? 0) > 0 && !ci && env.TERM !== 'dumb';
}

export function createProgress(options: {quiet?: boolean; interactive?: boolean; stream?: NodeJS.WriteStream} = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return {onStage: () => {}, line: () => {}, stop: () => {}};
  const interactive = options.interactive ?? isInteractive(stream);
  if (!interactive) {
    return {
      onStage(stage, event, ms, detail) {
        if (event === 'end') stream.write(`  ${stage.padEnd(8)} ${String(ms).padStart(6)} ms${detail ? `  (${detail})` : ''}\n`);
      },
      line: (text) => stream.write(`${text}\n`),
      stop: () => {},
    };
  }
  let spinner: Ora | undefined;
  return {
    onStage(stage, event, ms, detail) {
      const label = `${stage.padEnd(6)} ${LABELS[stage] ?? stage}`;
      if (event === 'start') {
        // We decided above that this is a terminal; ora's own check would say no whenever CI is set.
        spinner = ora({text: `${label}…`, stream, discardStdin: false, hideCursor: true, isEnabled: true}).start();
        return;
      }
      const text = `${label.padEnd(38)} ${formatMs(ms ?? 0).padStart(8)}${detail ? `  ${detail}` : ''}`;
      if (spinner) spinner.succeed(text);
      else stream.write(`✔ ${text}\n`);
      spinner = undefined;
    },
    line(text) {
      if (spinner?.isSpinning) {
        spinner.clear();
        stream.write(`${text}\n`);
        spinner.render();
      } else stream.write(`${text}\n`);
    },
    stop() {
      if (spinner?.isSpinning) spinner.fail(`${spinner.text.replace(/…$/, '')} (stopped)`);
      spinner = undefined;
    },
  };
}
