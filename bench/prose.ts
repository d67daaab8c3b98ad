/**
 * English-like prose from word lists and sentence templates, driven by a seeded generator.
 * The text means nothing, but its shape is a book's: sentences of varied length, long and
 * short words (hyphenation has work to do), punctuation, questions, numbers.
 */
import type {Random} from './random.ts';

export const NOUNS = [
  'model', 'system', 'pipeline', 'feature', 'dataset', 'prediction', 'component', 'service', 'team', 'engineer',
  'user', 'customer', 'requirement', 'metric', 'threshold', 'deployment', 'version', 'experiment', 'label', 'sample',
  'distribution', 'latency', 'budget', 'failure', 'mistake', 'risk', 'hazard', 'monitor', 'dashboard', 'interface',
  'contract', 'schema', 'record', 'batch', 'stream', 'query', 'cluster', 'server', 'container', 'notebook',
  'library', 'framework', 'benchmark', 'baseline', 'estimate', 'error', 'outlier', 'pattern', 'signal', 'decision',
  'tradeoff', 'product', 'market', 'stakeholder', 'manager', 'scientist', 'analyst', 'regulator', 'auditor', 'policy',
  'process', 'review', 'test', 'assertion', 'fixture', 'oracle', 'specification', 'goal', 'objective', 'incentive',
  'organization', 'boundary', 'transcript', 'recording', 'playlist', 'listener', 'transaction', 'merchant', 'sensor',
  'thermostat', 'camera', 'vehicle', 'pedestrian', 'patient', 'clinician', 'hospital', 'retailer', 'warehouse',
  'forecast', 'recommendation', 'ranking', 'classifier', 'regression', 'embedding', 'vocabulary', 'annotation',
  'annotator', 'workflow', 'checkpoint', 'artifact', 'repository', 'commit', 'branch', 'release', 'rollback',
  'incident', 'postmortem', 'alert', 'operator', 'architecture', 'abstraction', 'module', 'dependency', 'protocol',
  'message', 'queue', 'cache', 'replica', 'partition', 'snapshot', 'lineage', 'provenance', 'explanation', 'attribute',
  'subgroup', 'population', 'guideline', 'principle', 'obligation', 'audit', 'attack', 'adversary', 'vulnerability',
  'permission', 'account', 'device', 'network', 'bandwidth', 'throughput', 'resource', 'accelerator', 'processor',
  'question', 'answer', 'argument', 'assumption', 'hypothesis', 'observation', 'measurement', 'survey', 'interview',
  'prototype', 'roadmap', 'milestone', 'deadline', 'meeting', 'document', 'template', 'checklist', 'scenario', 'story',
] as const;

/** Words that read well as modifiers before a noun ("feature store", "model quality"). */
export const COMPOUNDS = [
  'data', 'model', 'feature', 'training', 'inference', 'quality', 'safety', 'privacy', 'fairness', 'security',
  'deployment', 'monitoring', 'evaluation', 'pipeline', 'production', 'test', 'user', 'system', 'label', 'runtime',
] as const;

export const ADJECTIVES = [
  'robust', 'brittle', 'noisy', 'expensive', 'cheap', 'subtle', 'careful', 'reliable', 'scalable', 'hidden',
  'explicit', 'implicit', 'local', 'global', 'temporary', 'persistent', 'reproducible', 'interpretable', 'fair',
  'biased', 'accurate', 'fragile', 'modular', 'distributed', 'automated', 'manual', 'critical', 'minor', 'common',
  'rare', 'surprising', 'obvious', 'consistent', 'stale', 'fresh', 'small', 'large', 'new', 'old', 'simple',
  'complicated', 'independent', 'unexpected', 'measurable', 'ambiguous', 'precise', 'realistic', 'representative',
  'incremental', 'continuous', 'offline', 'online', 'synthetic', 'historical', 'sensitive', 'confidential', 'public',
  'internal', 'external', 'upstream', 'downstream', 'asynchronous', 'sophisticated', 'straightforward', 'unreliable',
  'responsible', 'transparent', 'accountable', 'practical', 'theoretical', 'fundamental', 'additional', 'different',
  'similar', 'particular', 'general', 'specific', 'typical', 'unusual', 'deliberate', 'accidental', 'costly',
] as const;

/** [base, third person singular] */
export const VERBS: readonly [string, string][] = [
  'train', 'deploy', 'monitor', 'measure', 'evaluate', 'detect', 'predict', 'store', 'serve', 'label', 'collect',
  'clean', 'validate', 'test', 'document', 'review', 'compare', 'reduce', 'increase', 'improve', 'degrade', 'track',
  'record', 'replace', 'update', 'retrain', 'explain', 'justify', 'estimate', 'schedule', 'restrict', 'expose',
  'protect', 'audit', 'balance', 'combine', 'separate', 'encode', 'transform', 'aggregate', 'sample', 'filter',
  'annotate', 'version', 'release', 'revert', 'observe', 'inspect', 'debug', 'design', 'specify', 'negotiate',
  'prioritize', 'communicate', 'anticipate', 'mitigate', 'isolate', 'replicate', 'cache', 'partition', 'query',
  'approximate', 'simplify', 'constrain', 'influence', 'shape', 'reveal', 'obscure', 'support', 'require', 'produce',
  'consume', 'change', 'affect', 'shift', 'handle', 'identify', 'summarize', 'describe', 'discuss', 'analyze',
].map((base) => [base, thirdPerson(base)] as [string, string]);

export const ADVERBS = [
  'often', 'rarely', 'quickly', 'slowly', 'carefully', 'usually', 'typically', 'eventually', 'quietly', 'gradually',
  'explicitly', 'implicitly', 'frequently', 'occasionally', 'reliably', 'systematically', 'deliberately', 'routinely',
  'substantially', 'considerably', 'barely', 'repeatedly', 'automatically', 'manually', 'independently',
] as const;

export const PREPOSITIONS = ['in', 'for', 'with', 'from', 'across', 'within', 'behind', 'before', 'after', 'under', 'around', 'between', 'through', 'against'] as const;

export const TRANSITIONS = [
  'In practice,', 'As a consequence,', 'For example,', 'At the same time,', 'In our experience,', 'Unsurprisingly,',
  'Without such a check,', 'On the other hand,', 'In many organizations,', 'Over time,', 'Once deployed,',
  'More importantly,', 'In contrast,', 'For this reason,', 'Not surprisingly,', 'As a rule of thumb,', 'Ideally,',
  'In the long run,', 'Above all,', 'During development,', 'In hindsight,', 'To be fair,', 'Similarly,',
] as const;

const UNITS = ['percent', 'milliseconds', 'seconds', 'requests per second', 'gigabytes', 'hours', 'days', 'users', 'records', 'dollars'] as const;

export function thirdPerson(verb: string): string {
  if (/(s|sh|ch|x|z)$/.test(verb)) return `${verb}es`;
  if (/[^aeiou]y$/.test(verb)) return `${verb.slice(0, -1)}ies`;
  return `${verb}s`;
}

export function plural(noun: string): string {
  if (/(s|sh|ch|x|z)$/.test(noun)) return `${noun}es`;
  if (/[^aeiou]y$/.test(noun)) return `${noun.slice(0, -1)}ies`;
  return `${noun}s`;
}

/** "a model", "an error". */
export function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function titleCase(text: string): string {
  const small = new Set(['a', 'an', 'the', 'of', 'in', 'for', 'with', 'from', 'and', 'or', 'to', 'on', 'across', 'within', 'between', 'through']);
  return text.split(' ').map((w, i) => (i > 0 && small.has(w) ? w : capitalize(w))).join(' ');
}

/** Hooks that decorate words of a sentence (index terms, emphasis…). Return undefined to leave a word as is. */
export type Decorate = (word: string, kind: 'noun' | 'adjective' | 'verb') => string | undefined;

export class Prose {
  constructor(private readonly random: Random, private readonly decorate?: Decorate) {}

  /** Words of visible text produced so far. */
  words = 0;

  private noun(): string {
    const r = this.random;
    const base = r.chance(0.25) ? `${r.pick(COMPOUNDS)} ${r.pick(NOUNS)}` : r.pick(NOUNS);
    return this.decorate?.(base, 'noun') ?? base;
  }

  private adjective(): string {
    const word = this.random.pick(ADJECTIVES);
    return this.decorate?.(word, 'adjective') ?? word;
  }

  private np(): string {
    const r = this.random;
    const det = r.pick(['the', 'the', 'a', 'each', 'every', 'this', 'that', 'one']);
    const noun = this.noun();
    const adjective = r.chance(0.45) ? `${this.adjective()} ` : '';
    const article = det === 'a' && /^[aeiou]/i.test(adjective || noun) ? 'an' : det;
    let out = `${article} ${adjective}${noun}`;
    if (r.chance(0.15)) out += ` of the ${r.pick(NOUNS)}`;
    return out;
  }

  private nps(): string {
    const r = this.random;
    const adjective = r.chance(0.5) ? `${this.adjective()} ` : '';
    const noun = r.pick(NOUNS);
    return `${r.pick(['', '', 'many ', 'most ', 'some ', 'few ', 'such '])}${adjective}${plural(noun)}`;
  }

  private verb(third = false): string {
    const [base, s] = this.random.pick(VERBS);
    return third ? s : base;
  }

  private number(): string {
    const r = this.random;
    return `${r.pick(['about', 'nearly', 'more than', 'less than', 'roughly', 'at most'])} ${r.int(2, 950)} ${r.pick(UNITS)}`;
  }

  /** One sentence without final punctuation handling beyond its own. */
  sentence(): string {
    const r = this.random;
    const t = r.int(0, 15);
    let s: string;
    switch (t) {
      case 0: s = `${r.pick(TRANSITIONS)} ${this.np()} ${this.verb(true)} ${this.np()} ${r.pick(PREPOSITIONS)} ${this.np()}.`; break;
      case 1: s = `${capitalize(this.nps())} ${this.verb()} ${r.pick(ADVERBS)} when ${this.np()} ${this.verb(true)} ${this.np()}.`; break;
      case 2: s = `${article(r.pick(NOUNS))} that ${this.verb(true)} ${this.np()} is ${r.pick(['often', 'usually', 'rarely', 'not always'])} more ${this.adjective()} than one that ${this.verb(true)} ${this.np()}.`; break;
      case 3: s = `Teams that ${this.verb()} ${this.nps()} ${r.pick(ADVERBS)} ${this.verb()} fewer ${plural(r.pick(NOUNS))} ${r.pick(PREPOSITIONS)} ${this.np()}.`; break;
      case 4: s = `${capitalize(this.np())} can ${this.verb()} ${this.np()}, but only if ${this.np()} ${this.verb(true)} ${this.np()}.`; break;
      case 5: s = `Whether ${this.np()} ${this.verb(true)} ${this.np()} depends on ${this.np()} and on ${this.nps()}.`; break;
      case 6: s = `We ${this.verb()} ${this.np()} ${r.pick(PREPOSITIONS)} ${this.np()} and ${this.verb()} ${this.nps()}.`; break;
      case 7: s = `How should ${this.np()} ${this.verb()} ${this.np()} ${r.pick(PREPOSITIONS)} ${this.np()}?`; break;
      case 8: s = `This is why ${this.np()} ${this.verb(true)} ${this.np()} before ${this.np()} ${this.verb(true)} ${this.np()}.`; break;
      case 9: s = `${capitalize(this.np())} is ${this.adjective()}, ${r.pick(['but', 'and', 'yet', 'so'])} ${this.np()} is ${this.adjective()}.`; break;
      case 10: s = `In one project, ${this.np()} ${this.verb(true)} ${this.number()} ${r.pick(PREPOSITIONS)} ${this.np()}.`; break;
      case 11: s = `${capitalize(this.nps())} ${r.pick(['rarely', 'seldom', 'often', 'sometimes'])} ${this.verb()} ${this.np()}; ${this.nps()} ${this.verb()} ${this.np()} instead.`; break;
      case 12: s = `It is tempting to ${this.verb()} ${this.np()} ${r.pick(ADVERBS)}, yet ${this.np()} ${r.pick(['still', 'then', 'soon'])} ${this.verb(true)} ${this.np()}.`; break;
      case 13: s = `${capitalize(this.np())} ${this.verb(true)} ${this.np()}.`; break;
      case 14: s = `If ${this.np()} ${this.verb(true)} ${this.np()}, ${this.nps()} ${r.pick(['will', 'may', 'must', 'should'])} ${this.verb()} ${this.np()} ${r.pick(PREPOSITIONS)} ${this.np()}.`; break;
      default: s = `Consider ${this.np()} ${r.pick(PREPOSITIONS)} ${this.np()}: ${this.np()} ${this.verb(true)} ${this.np()}, and ${this.nps()} ${this.verb()} ${this.np()}.`;
    }
    s = capitalize(s);
    this.words += countWords(s);
    return s;
  }

  /** A short phrase, for titles and captions ("Measuring stale features across teams"). */
  phrase(min = 3, max = 6): string {
    const r = this.random;
    const words: string[] = [];
    const target = r.int(min, max);
    const [base] = r.pick(VERBS);
    words.push(`${base.replace(/e$/, '')}ing`);
    while (words.length < target - 1) words.push(r.chance(0.5) ? r.pick(ADJECTIVES) : r.pick(COMPOUNDS));
    words.push(plural(r.pick(NOUNS)));
    const out = words.join(' ');
    this.words += words.length;
    return out;
  }

  /** A noun phrase without decoration, for captions and table cells. */
  plainNounPhrase(): string {
    const r = this.random;
    const out = `${r.chance(0.5) ? `${r.pick(ADJECTIVES)} ` : ''}${r.chance(0.4) ? `${r.pick(COMPOUNDS)} ` : ''}${r.pick(NOUNS)}`;
    this.words += countWords(out);
    return out;
  }
}

export function countWords(text: string): number {
  let n = 0;
  for (const token of text.split(/\s+/)) if (/[A-Za-z0-9]/.test(token)) n++;
  return n;
}
