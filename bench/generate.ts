/**
 * A book-scale manuscript for benchmarks: deterministic (seeded), written to a temporary folder,
 * never into the repository. The defaults match the printed book: 29 chapters in 6 parts,
 * about 215,000 words, about 150 images (SVG, PNG, JPEG; four SVGs of 2–3 MB), with headings,
 * lists, tables with captions, footnotes, code listings, math, figures with captions, citations,
 * glossary and index terms, cross-references and links between chapters.
 *
 *   npx tsx bench/generate.ts [--out DIR] [--seed S] [--words N] [--force]
 */
import fs from 'node:fs/promises';
import {existsSync, readFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';
import {Random} from './random.ts';
import {Prose, NOUNS, ADJECTIVES, plural, capitalize, titleCase, countWords} from './prose.ts';
import {diagramSvg, chartSvg, largeSvg, chartPng, photoJpeg} from './images.ts';
import {flywheelSvg} from './drawings.ts';
import {writeReferences, bookYaml} from './references.ts';
import {chapterWriter, codeBlock} from './writer.ts';

/** Bump when the output of the generator changes, so a reused book is regenerated. */
export const GENERATOR_VERSION = 7;

export interface GenerateOptions {
  /** Target folder; default `<tmpdir>/book-bench-<seed>-<words>`. */
  dir?: string;
  seed?: string;
  /** Words of text in the whole manuscript (chapters, front and back matter). */
  words?: number;
  /** Images referenced by the chapters (cover and part images come on top). */
  figures?: number;
  /** Regenerate even when the folder holds a book made with the same options. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface GeneratedBook {
  dir: string;
  seed: string;
  words: number;
  chapters: string[];
  images: {svg: number; png: number; jpeg: number; largeSvg: number; exportSvg: number; total: number; bytes: number};
  bib: number;
  reused: boolean;
}

const PART_SIZES = [3, 4, 6, 6, 3, 7];
const LARGE_SVG_CHAPTERS = new Set([7, 12, 19, 26]);
/** Chapters whose third figure is a diagram-tool export: 24 bitmaps of 400 × 400 px inside, each shown small (issue 20). */
const EXPORT_SVG_CHAPTERS = new Set([1, 5, 9, 14, 17, 22, 28]);
const LANGUAGES = ['python', 'python', 'javascript', 'yaml', 'bash', 'sql', 'json'] as const;

export function defaultDir(seed: string, words: number): string {
  return path.join(os.tmpdir(), `book-bench-${seed}-${words}`);
}

export async function generateBook(options: GenerateOptions = {}): Promise<GeneratedBook> {
  const seed = options.seed ?? 'mlip-1';
  const targetWords = options.words ?? 215_000;
  const figureCount = options.figures ?? 143;
  const dir = path.resolve(options.dir ?? defaultDir(seed, targetWords));
  const log = options.log ?? (() => {});
  const manifestPath = path.join(dir, '.bench-manifest.json');
  const key = {version: GENERATOR_VERSION, seed, targetWords, figureCount};
  if (!options.force && existsSync(manifestPath)) {
    try {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {key: typeof key; book: GeneratedBook};
      if (JSON.stringify(manifest.key) === JSON.stringify(key)) return {...manifest.book, dir, reused: true};
    } catch {}
  }
  if (isInside(process.cwd(), dir) || isInside(repoRoot(), dir)) {
    throw new Error(`Refusing to generate into ${dir}: the benchmark book never goes into the repository`);
  }
  await fs.rm(dir, {recursive: true, force: true});
  for (const sub of ['chapters', 'front', 'back', 'img/parts', 'references', 'glossary']) await fs.mkdir(path.join(dir, sub), {recursive: true});

  const root = new Random(seed);
  const images = {svg: 0, png: 0, jpeg: 0, largeSvg: 0, exportSvg: 0, total: 0, bytes: 0};
  const writeImage = async (rel: string, bytes: Buffer | string) => {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    await fs.writeFile(path.join(dir, rel), buffer);
    images.total++;
    images.bytes += buffer.length;
    if (rel.endsWith('.svg')) images.svg++;
    else if (rel.endsWith('.png')) images.png++;
    else images.jpeg++;
  };

  const {bibKeys, glossaryTerms} = await writeReferences(dir, root.fork('bib'), root.fork('glossary'));

  // --- Plan: chapters, parts, figures ------------------------------------------------------
  const planRandom = root.fork('plan');
  const chapterCount = PART_SIZES.reduce((a, b) => a + b, 0);
  const chapters = Array.from({length: chapterCount}, (_, i) => {
    const n = i + 1;
    const title = titleCase(new Prose(planRandom).phrase(3, 6));
    const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    const nn = String(n).padStart(2, '0');
    return {
      n, nn, title, file: `${nn}-${slug}.md`,
      sections: planRandom.int(6, 9),
      tables: planRandom.int(2, 4),
      listings: planRandom.int(2, 4),
      equation: planRandom.chance(0.6),
      footnotes: planRandom.int(5, 11),
      weight: 0.7 + planRandom.next() * 0.6,
      figures: [] as {id: string; file: string; kind: 'svg' | 'png' | 'jpeg' | 'large' | 'export'}[],
    };
  });
  for (let i = 0; i < figureCount; i++) {
    const chapter = chapters[i % chapterCount]!;
    const k = chapter.figures.length + 1;
    const large = LARGE_SVG_CHAPTERS.has(chapter.n) && k === 2;
    const roll = planRandom.next();
    const drawing = EXPORT_SVG_CHAPTERS.has(chapter.n) && k === 3;
    const kind = large ? 'large' : drawing ? 'export' : roll < 0.55 ? 'svg' : roll < 0.8 ? 'png' : 'jpeg';
    const ext = kind === 'large' || kind === 'export' ? 'svg' : kind === 'jpeg' ? 'jpg' : kind;
    chapter.figures.push({id: `fig-ch${chapter.nn}-${k}`, file: `${chapter.nn}-figure-${k}.${ext}`, kind});
  }

  // --- Images -----------------------------------------------------------------------------
  const imageRandom = root.fork('images');
  for (const chapter of chapters) {
    for (const figure of chapter.figures) {
      const r = imageRandom.fork(figure.id);
      const title = `${capitalize(new Prose(r).plainNounPhrase())} overview`;
      const series = Array.from({length: r.int(2, 4)}, () => new Prose(r).plainNounPhrase().slice(0, 18));
      const rel = `img/${figure.file}`;
      if (figure.kind === 'export') {
        await writeImage(rel, await flywheelSvg(24, 400, chapter.n));
        images.exportSvg++;
      } else if (figure.kind === 'large') {
        await writeImage(rel, largeSvg(r, title, r.int(2_100_000, 2_900_000)));
        images.largeSvg++;
      } else if (figure.kind === 'svg') {
        const labels = Array.from({length: r.int(4, 9)}, () => capitalize(r.pick(NOUNS)));
        await writeImage(rel, r.chance(0.5) ? diagramSvg(r, title, labels) : chartSvg(r, title, series));
      } else if (figure.kind === 'png') {
        await writeImage(rel, await chartPng(r, title, series));
      } else {
        await writeImage(rel, await photoJpeg(r, r.pick([1200, 1600, 2000]), r.pick([800, 1067, 1200])));
      }
    }
  }
  await writeImage('img/cover.jpg', await photoJpeg(imageRandom.fork('cover'), 1600, 2400, 88));
  for (let p = 1; p <= PART_SIZES.length; p++) await writeImage(`img/parts/part${p}.jpg`, await photoJpeg(imageRandom.fork(`part${p}`), 1400, 700));

  // --- Text -------------------------------------------------------------------------------
  const textRandom = root.fork('text');
  const frontBackBudget = Math.round(targetWords * 0.012);
  const totalWeight = chapters.reduce((sum, c) => sum + c.weight, 0);
  let words = 0;

  const writer = (r: Random, docId: string) => chapterWriter(r, docId, {glossaryTerms, bibKeys});

  const chapterTexts: string[] = [];
  for (const chapter of chapters) {
    const r = textRandom.fork(`ch${chapter.nn}`);
    // 0.942: what specials, captions and the last paragraph of each section add beyond the budget (measured).
    const budget = Math.round((0.942 * (targetWords - frontBackBudget) * chapter.weight) / totalWeight);
    const w = writer(r, `ch${chapter.nn}`);
    const {prose, plain, paragraph} = w;
    const out: string[] = [`# ${chapter.title}`, ''];
    prose.words += countWords(chapter.title);

    // Specials, spread over the sections.
    type Special = {kind: 'figure' | 'table' | 'listing' | 'equation' | 'list' | 'olist' | 'quote'; index: number};
    const specials: Special[][] = Array.from({length: chapter.sections}, () => []);
    const place = (kind: Special['kind'], index: number) => specials[r.int(0, chapter.sections - 1)]!.push({kind, index});
    chapter.figures.forEach((_, i) => place('figure', i));
    for (let i = 0; i < chapter.tables; i++) place('table', i);
    for (let i = 0; i < chapter.listings; i++) place('listing', i);
    if (chapter.equation) place('equation', 0);
    for (let i = 0; i < r.int(5, 9); i++) place(r.pick(['list', 'list', 'olist', 'quote']), i);
    specials.forEach((list) => r.shuffle(list));

    const footnotes: string[] = [];
    const footnoteSlots = new Set(Array.from({length: chapter.footnotes}, () => r.int(0, 60)));
    let paragraphNo = 0;
    const others = chapters.filter((c) => c !== chapter);
    const chapterLink = () => {
      const other = r.pick(others);
      const fragment = r.chance(0.4) ? `#sec-ch${other.nn}-${r.int(1, other.sections)}` : '';
      return r.chance(0.5)
        ? `See [${other.title}](${other.file}${fragment}) for more on this.`
        : `This connects to [${r.pick(['the discussion of', 'our treatment of', 'the chapter on'])} ${other.title.toLowerCase()}](${other.file}${fragment}).`;
    };
    const nextParagraph = (): string => {
      paragraphNo++;
      const extra: {footnote?: string; link?: string; xref?: string} = {};
      if (footnoteSlots.has(paragraphNo)) {
        const id = `ch${chapter.nn}-note${footnotes.length + 1}`;
        extra.footnote = id;
        footnotes.push(`[^${id}]: ${prose.sentence()} ${r.chance(0.5) ? `${prose.sentence()} ` : ''}${r.chance(0.3) ? w.cite() : ''}`.trimEnd());
      }
      if (r.chance(0.06)) extra.link = chapterLink();
      if (r.chance(0.04)) {
        const other = r.pick(others);
        extra.xref = `${capitalize(r.pick(['compare', 'recall', 'see also']))} @sec-ch${other.nn}-${r.int(1, other.sections)} and @fig-ch${other.nn}-1.`;
      }
      return paragraph(r.int(3, 8), extra);
    };

    out.push(nextParagraph(), '', nextParagraph(), '');
    const sectionBudget = (budget - prose.words - plain.words - 250) / chapter.sections;
    let tableNo = 0;
    let listingNo = 0;
    for (let s = 1; s <= chapter.sections; s++) {
      const sectionTitle = titleCase(prose.phrase(2, 5));
      out.push(`## ${sectionTitle} {#sec-ch${chapter.nn}-${s}}`, '');
      const end = prose.words + plain.words + sectionBudget;
      const subsections = r.int(1, 3);
      const todo = specials[s - 1]!;
      let sub = 0;
      const perSub = sectionBudget / (subsections + 1);
      const written = () => prose.words + plain.words;
      while (written() + 40 < end || todo.length > 0) {
        if (sub < subsections && written() > end - sectionBudget + perSub * (sub + 1)) {
          sub++;
          out.push(`### ${capitalize(prose.phrase(2, 5))}`, '');
        }
        out.push(nextParagraph(), '');
        if (todo.length > 0 && (r.chance(0.35) || written() + 40 >= end)) {
          const special = todo.pop()!;
          out.push(...renderSpecial(special));
        }
        if (written() > end + sectionBudget) break;
      }
      for (const special of todo) out.push(...renderSpecial(special));
    }

    function renderSpecial(special: Special): string[] {
      switch (special.kind) {
        case 'figure': {
          const figure = chapter.figures[special.index]!;
          const caption = `${capitalize(plain.plainNounPhrase())} and ${plain.plainNounPhrase()}${r.chance(0.3) ? `, *${r.pick(ADJECTIVES)}* by design` : ''}. ${plain.sentence()}`;
          const alt = `${capitalize(figure.kind === 'jpeg' ? 'A photograph of' : 'A diagram of')} ${prose.plainNounPhrase()} ${r.pick(['next to', 'above', 'connected to'])} ${prose.plainNounPhrase()}.`;
          return [
            `As @${figure.id} shows, ${prose.sentence().replace(/^./, (c) => c.toLowerCase())}`, '',
            `![${caption}](../img/${figure.file}){#${figure.id} fig-alt="${alt.replace(/"/g, '')}"}`, '',
          ];
        }
        case 'table': {
          tableNo++;
          const id = `tbl-ch${chapter.nn}-${tableNo}`;
          const cols = r.int(3, 5);
          const header = Array.from({length: cols}, (_, i) => (i === cols - 1 ? 'Notes' : capitalize(r.pick(NOUNS))));
          const align = Array.from({length: cols}, (_, i) => (i === 0 ? ':--' : i === cols - 1 ? ':--' : r.pick(['--:', ':-:', '---'])));
          const rows = Array.from({length: r.int(3, 9)}, () => header.map((_, i) => (i === 0 ? capitalize(prose.plainNounPhrase()) : i === cols - 1 ? prose.sentence().replace(/\|/g, '') : String(r.int(1, 9999)))));
          return [
            `@${id} summarizes ${prose.plainNounPhrase()} for ${plural(r.pick(NOUNS))}.`, '',
            `| ${header.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`), '',
            `: ${capitalize(prose.plainNounPhrase())} by ${r.pick(NOUNS)} {#${id}}`, '',
          ];
        }
        case 'listing': {
          listingNo++;
          const lang = r.pick(LANGUAGES);
          const lines = codeBlock(r, lang, w.identifier);
          const labelled = r.chance(0.6);
          const id = `lst-ch${chapter.nn}-${listingNo}`;
          const meta = labelled ? ` {#${id} caption="${capitalize(prose.phrase(2, 5))}"${r.chance(0.4) ? ` lines="${r.int(1, 3)}-${r.int(3, 5)}"` : ''}${r.chance(0.2) ? ' numbers' : ''}}` : '';
          return [
            ...(labelled ? [`@${id} ${r.pick(['shows', 'sketches', 'illustrates'])} ${prose.plainNounPhrase()}.`, ''] : []),
            `\`\`\`${lang}${meta}`, ...lines, '```', '',
          ];
        }
        case 'equation': {
          const id = `eq-ch${chapter.nn}-1`;
          return [
            `The ${prose.plainNounPhrase()} follows @${id}.`, '',
            `$$ {#${id}}`, r.pick(['\\text{precision} = \\frac{TP}{TP + FP}', 'F_1 = 2 \\cdot \\frac{P \\cdot R}{P + R}', '\\hat{y} = \\sum_{i=1}^{n} w_i x_i + b', 'L(\\theta) = -\\frac{1}{n} \\sum_{i=1}^{n} \\log p_\\theta(y_i \\mid x_i)']), '$$', '',
          ];
        }
        case 'list': {
          const items = Array.from({length: r.int(3, 6)}, () => `- **${capitalize(prose.plainNounPhrase())}.** ${prose.sentence()}${r.chance(0.3) ? ` ${prose.sentence()}` : ''}`);
          if (r.chance(0.3)) items.splice(1, 0, `  - ${prose.sentence()}`, `  - ${prose.sentence()}`);
          return [...items, ''];
        }
        case 'olist':
          return [...Array.from({length: r.int(3, 7)}, (_, i) => `${i + 1}. ${prose.sentence()}`), ''];
        default:
          return [`> ${prose.sentence()} ${prose.sentence()}`, '>', `> — ${r.pick(['a fictional engineer', 'an imagined product manager', 'a composite of interviews'])}`, ''];
      }
    }

    out.push('## Further Readings {.unnumbered}', '');
    for (let i = 0; i < r.int(3, 5); i++) out.push(`- @${r.pick(bibKeys)} ${prose.sentence().replace(/^./, (c) => c.toLowerCase())}`);
    out.push('');
    out.push(...footnotes.flatMap((note) => [note, '']));
    chapterTexts.push(out.join('\n'));
    words += prose.words + plain.words;
    await fs.writeFile(path.join(dir, 'chapters', chapter.file), out.join('\n'));
  }

  // --- Front and back matter ------------------------------------------------------------
  const fbRandom = root.fork('front-back');
  const fb = writer(fbRandom, 'front');
  const paras = (n: number) => Array.from({length: n}, () => `${fb.paragraph(fbRandom.int(4, 7))}\n`).join('\n');
  await fs.writeFile(path.join(dir, 'front', 'dedication.md'), `# Dedication\n\nTo everyone who has ever had to keep a model running in production.\n`);
  const preface = `# Preface\n\n${paras(6)}\n## How This Book Came About\n\n${paras(5)}\n## Acknowledgments {.unnumbered}\n\n${paras(3)}`;
  await fs.writeFile(path.join(dir, 'front', 'preface.md'), preface);
  await fs.writeFile(path.join(dir, 'back', 'about-the-author.md'), `# About the Author\n\n${paras(3)}`);
  words += fb.prose.words + 10;

  // --- book.yaml ----------------------------------------------------------------------------
  let c = 0;
  const parts = PART_SIZES.map((size) => {
    const list = chapters.slice(c, c + size);
    c += size;
    return {title: titleCase(new Prose(planRandom).phrase(2, 4)), chapters: list.map((ch) => `chapters/${ch.file}`)};
  });
  await fs.writeFile(path.join(dir, 'book.yaml'), bookYaml(seed, parts));

  const book: GeneratedBook = {
    dir, seed, words, chapters: chapters.map((ch) => `chapters/${ch.file}`), images, bib: bibKeys.length, reused: false,
  };
  await fs.writeFile(manifestPath, `${JSON.stringify({key, book}, null, 2)}\n`);
  log(`Generated ${dir}: ${chapters.length} chapters, ${words} words, ${images.total} images (${(images.bytes / 1e6).toFixed(1)} MB)`);
  return book;
}

function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function main() {
  const {values} = parseArgs({
    options: {
      out: {type: 'string'}, seed: {type: 'string', default: 'mlip-1'}, words: {type: 'string', default: '215000'},
      force: {type: 'boolean', default: false}, help: {type: 'boolean', default: false},
    },
  });
  if (values.help) {
    process.stdout.write('Usage: tsx bench/generate.ts [--out DIR] [--seed S] [--words N] [--force]\n');
    return;
  }
  const book = await generateBook({
    ...(values.out ? {dir: values.out} : {}), seed: values.seed!, words: Number(values.words), force: values.force!,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(book, null, 2)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  });
}
