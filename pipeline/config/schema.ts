/**
 * The schema of `book.yaml`. Each field says what it is for; a failed validation
 * points back at the line in the file (see load.ts).
 */
import {z} from 'zod';

/** The print files a build can make besides the screen PDF (`screen` is that PDF itself). */
export const PRINT_PROFILES = ['screen', 'kdp', 'pdfx'] as const;
export type PrintProfile = (typeof PRINT_PROFILES)[number];

const length = z
  .string()
  .regex(/^\d+(\.\d+)?(in|mm|cm|pt)$/, 'a length such as "7in", "178mm" or "36pt"');

const relPath = z.string().min(1).describe('A path relative to book.yaml');

export const authorSchema = z
  .object({
    name: z.string().min(1).describe('Name as printed'),
    fileAs: z.string().optional().describe('Sort form, "Last, First"'),
    role: z.string().default('aut').describe('MARC relator code (aut, edt, ill, trl…)'),
    affiliation: z.string().optional(),
  })
  .strict();

export const partSchema = z
  .object({
    title: z.string().min(1).describe('Part title, without "Part I"'),
    image: relPath.optional().describe('Header image of the part page'),
    alt: z.string().optional().describe('Alternative text of the image'),
    chapters: z.array(relPath).min(1).describe('Chapter files in reading order'),
  })
  .strict();

export const bookSchema = z
  .object({
    title: z.string().min(1).describe('Book title'),
    subtitle: z.string().optional(),
    authors: z.array(authorSchema).min(1),
    publisher: z.string().optional(),
    date: z
      .union([z.string().regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, 'a date as YYYY-MM-DD'), z.date()])
      .transform((d) => (d instanceof Date ? d.toISOString().slice(0, 10) : d))
      .describe('Publication date, YYYY-MM-DD'),
    language: z
      .string()
      .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, 'a BCP 47 language tag such as "en" or "de-CH"')
      .describe('Language of the text'),
    description: z.string().optional(),
    subjects: z.array(z.string()).default([]),
    identifiers: z
      .object({
        isbn: z.string().regex(/^(97[89])-?[\d-]{10,14}$/, 'an ISBN-13 such as 978-0-262-04972-6').optional()
          .describe('ISBN of the print edition (the EPUB page list refers to it)'),
        ebookIsbn: z.string().regex(/^(97[89])-?[\d-]{10,14}$/, 'an ISBN-13').optional()
          .describe('ISBN of the ebook; used as the EPUB identifier when given'),
        uuid: z.string().uuid().optional().describe('Fixed UUID for the EPUB; derived from the title otherwise'),
      })
      .strict()
      .default({}),
    series: z
      .object({name: z.string().min(1), position: z.number().int().positive().optional()})
      .strict()
      .optional(),
    license: z
      .object({
        name: z.string().min(1),
        short: z.string().min(1),
        url: z.string().url(),
      })
      .strict(),
    cover: z.object({image: relPath, alt: z.string().min(1)}).strict().optional(),
    copyright: z.array(z.string()).default([]).describe('Extra paragraphs on the copyright page'),
    bibliography: z.array(relPath).default([]).describe('BibTeX files'),
    citationStyle: z.string().default('apa').describe('CSL style: apa, harvard1 or vancouver'),
    glossary: z.array(relPath).default([]).describe('YAML files of `term: definition`'),
    front: z.array(relPath).default([]).describe('Front-matter Markdown files after the title pages'),
    parts: z.array(partSchema).min(1),
    back: z.array(relPath).default([]).describe('Back-matter Markdown files before the generated ones'),
    print: z
      .object({
        trim: z.object({width: length, height: length}).strict().default({width: '7in', height: '9in'}),
        margins: z
          .object({top: length, bottom: length, inner: length, outer: length})
          .strict()
          .default({top: '0.75in', bottom: '0.8in', inner: '0.875in', outer: '0.625in'}),
        bleed: length.optional().describe('Bleed added around the trim box'),
        cropMarks: z.boolean().default(false).describe('Crop marks outside the bleed, in the `pdfx` file'),
        fontSize: length.default('10.5pt'),
        notes: z.enum(['page', 'chapter']).default('page')
          .describe('Footnotes at the bottom of the page that calls them (`page`) or gathered at the end of each chapter (`chapter`)'),
        profiles: z.array(z.enum(PRINT_PROFILES)).optional()
          .describe('Print files besides the screen PDF: `kdp` (<slug>.kdp.pdf), `pdfx` (<slug>.pdfx.pdf)'),
        color: z.enum(['gray', 'cmyk']).optional().describe('The colour of the `pdfx` file: greyscale (the default) or CMYK'),
        paper: z.union([z.enum(['white', 'cream', 'color']), length]).optional()
          .describe('Paper for the cover’s spine: KDP’s white, cream or colour paper, or the thickness of one leaf'),
        coverText: z.string().optional().describe('The text on the back cover (default: the description)'),
      })
      .strict()
      .default({
        trim: {width: '7in', height: '9in'},
        margins: {top: '0.75in', bottom: '0.8in', inner: '0.875in', outer: '0.625in'},
        cropMarks: false,
        fontSize: '10.5pt',
        notes: 'page',
      }),
  })
  .strict();

export type BookConfig = z.infer<typeof bookSchema>;
