import {describe, it, expect} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {parseConfig} from '../pipeline/config/load.ts';
import {ROOT} from './helpers.ts';

const good = fs.readFileSync(path.join(ROOT, 'manuscript', 'book.yaml'), 'utf8');
const problems = (text: string) => parseConfig(text, 'book.yaml').file.messages.map((m) => ({line: m.line, column: m.column, reason: m.reason, fatal: m.fatal}));

describe('book.yaml', () => {
  it('should accept the manuscript configuration', () => {
    const {config, file} = parseConfig(good, 'book.yaml');
    expect(file.messages).toEqual([]);
    expect(config?.parts).toHaveLength(6);
    expect(config?.parts.flatMap((p) => p.chapters)).toHaveLength(29);
    expect(config?.print.trim).toEqual({width: '7in', height: '9in'});
  });

  it('should point at a misspelt field and suggest the right one', () => {
    const line = good.split('\n').findIndex((l) => l.startsWith('language:')) + 1;
    const result = problems(good.replace('language: en', 'langauge: en'));
    expect(result).toContainEqual(expect.objectContaining({line, column: 1, reason: 'Unknown field `langauge`; did you mean `language`?', fatal: true}));
    expect(result.some((p) => p.reason === 'Missing required field `language`')).toBe(true);
  });

  it('should say what was expected for a wrong value, at its line and column', () => {
    const line = good.split('\n').findIndex((l) => l.startsWith('date:')) + 1;
    expect(problems(good.replace('date: 2025-04-08', 'date: April 2025'))).toEqual([
      {line, column: 7, reason: 'Invalid `date`: a date as YYYY-MM-DD', fatal: true},
    ]);
  });

  it('should report a nested mistake with its path', () => {
    const result = problems(good.replace('  trim: { width: 7in, height: 9in }', '  trim: { width: seven, height: 9in }'));
    expect(result).toHaveLength(1);
    expect(result[0]!.reason).toMatch(/^Invalid `print\.trim\.width`: a length/);
    expect(result[0]!.line).toBe(good.split('\n').findIndex((l) => l.includes('trim:')) + 1);
  });

  it('should report malformed YAML with a position instead of throwing', () => {
    const result = problems('title: [unclosed\nauthors: x\n');
    expect(result).toHaveLength(1);
    expect(result[0]!.reason).toMatch(/^Malformed YAML/);
    expect(result[0]!.line).toBeGreaterThan(0);
  });
});
