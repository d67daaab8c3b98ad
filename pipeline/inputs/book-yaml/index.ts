/**
 * The reader of our own manuscripts: book.yaml names the front matter, the parts with their
 * chapters, the back matter, the bibliography and the glossary; every file is read confined to
 * the manuscript folder, and a missing one is reported at its line in book.yaml.
 */
import path from 'node:path';
import {VFile} from 'vfile';
import {parseConfig} from '../../config/load.ts';
import {readInside, OutsideManuscriptError} from '../../io/files.ts';
import {partLabel, stemId, readReferenceFiles, type BookSource, type DocSource, type PartSource, type ReadResult} from '../source.ts';

export async function readBookYaml(manuscript: string): Promise<ReadResult> {
  const root = path.resolve(manuscript);
  const configPath = path.join(root, 'book.yaml');
  let configText: string;
  try {
    // Confined like every other read: a book.yaml that links outside the folder is refused.
    configText = (await readInside(root, 'book.yaml')).bytes.toString('utf8');
  } catch (error) {
    const file = new VFile({path: path.relative(process.cwd(), configPath) || 'book.yaml'});
    file.message(error instanceof OutsideManuscriptError
      ? `book.yaml in \`${manuscript}\` links to a file outside the manuscript folder; the build reads only files inside it`
      : `Cannot find book.yaml in \`${manuscript}\`; a manuscript folder holds book.yaml and the chapters`, {
      source: 'book', ruleId: error instanceof OutsideManuscriptError ? 'outside-manuscript' : 'missing-config',
    }).fatal = true;
    return {files: [file]};
  }
  const displayRoot = path.relative(process.cwd(), root) || '.';
  const show = (rel: string) => path.join(displayRoot, rel);
  const {file: configFile, config} = parseConfig(configText, show('book.yaml'));
  const files: VFile[] = [configFile];
  if (!config) return {files};

  // Which YAML node names a file, so a missing file is reported at its line in book.yaml.
  const configLine = (value: string) => {
    const index = configText.indexOf(value);
    if (index < 0) return undefined;
    const before = configText.slice(0, index).split('\n');
    return {start: {line: before.length, column: before.at(-1)!.length + 1}, end: {line: before.length, column: before.at(-1)!.length + 1 + value.length}};
  };
  const read = async (rel: string): Promise<string | undefined> => {
    try {
      return (await readInside(root, rel)).bytes.toString('utf8');
    } catch (error) {
      const why = error instanceof OutsideManuscriptError ? 'is outside the manuscript folder' : 'does not exist';
      configFile.message(`\`${rel}\` ${why}`, {place: configLine(rel), source: 'book', ruleId: 'missing-file'}).fatal = true;
      return undefined;
    }
  };

  const docs: DocSource[] = [];
  const parts: PartSource[] = [];
  for (const rel of config.front) {
    const text = await read(rel);
    if (text !== undefined) docs.push({id: stemId('front', rel), kind: 'front', path: rel, text});
  }
  let number = 0;
  for (const [partIndex, part] of config.parts.entries()) {
    const docIds: string[] = [];
    for (const rel of part.chapters) {
      number++;
      const text = await read(rel);
      const id = `ch${String(number).padStart(2, '0')}`;
      docIds.push(id);
      if (text !== undefined) docs.push({id, kind: 'chapter', path: rel, text, number, partIndex});
    }
    parts.push({title: part.title, label: partLabel(partIndex), id: `part${partIndex + 1}`, docIds,
      ...(part.alt ? {alt: part.alt} : {}), ...(part.image ? {image: part.image} : {})});
  }
  for (const rel of config.back) {
    const text = await read(rel);
    if (text !== undefined) docs.push({id: stemId('back', rel), kind: 'back', path: rel, text});
  }

  const {bibliography, glossary} = await readReferenceFiles(config, read, show, (_rel, file) => files.push(file));
  const source: BookSource = {root, displayRoot, config, configFile, parts, docs, bibliography, glossary, files};
  return {source, files};
}
