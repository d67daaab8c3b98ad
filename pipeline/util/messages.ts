/**
 * The author's problems, as every front end shows them: the messages of all files in one list
 * (files by path, messages by place, with vfile-sort's order) and their counts (vfile-statistics).
 */
import type {VFile} from 'vfile';
import {compareFile, compareMessage} from 'vfile-sort';
import {statistics} from 'vfile-statistics';

export interface Diagnostic {
  file: string;
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
  severity: 'error' | 'warning' | 'info';
  message: string;
  ruleId?: string;
  source?: string;
}

/** Every message of every file, in the order a reader fixes them. */
export function diagnosticsOf(files: VFile[]): Diagnostic[] {
  return [...files].sort(compareFile).flatMap((file) => [...file.messages].sort(compareMessage).map((m) => ({
    file: file.path,
    ...(m.line ? {line: m.line} : {}),
    ...(m.column ? {column: m.column} : {}),
    ...(m.place && 'end' in m.place ? {endLine: m.place.end.line, endColumn: m.place.end.column} : {}),
    severity: m.fatal === true ? 'error' as const : m.fatal === false ? 'warning' as const : 'info' as const,
    message: m.reason,
    ...(m.ruleId ? {ruleId: m.ruleId} : {}),
    ...(m.source ? {source: m.source} : {}),
  })));
}

/** How many errors, warnings and notes the files hold. */
export function countsOf(files: VFile[]): {errors: number; warnings: number; infos: number} {
  const counted = statistics(files);
  return {errors: counted.fatal, warnings: counted.warn, infos: counted.info};
}
