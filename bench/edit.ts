/** The one-chapter edit of the warm benchmarks: a paragraph appended to a chapter, then taken out again. */
export const EDIT = '\n\nAn edited paragraph: the author changed one sentence of this chapter and rebuilt the book.\n';
