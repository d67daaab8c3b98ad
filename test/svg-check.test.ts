/**
 * svgProblems walks the elements parse5 finds (no hast tree): the cases such a walk could get
 * wrong — prefixed and case-adjusted attribute names, upper-case tags, attributes on the root,
 * CSS in elements and attributes — and the places an HTML parser hides from it, where an XML
 * parser (which is what reads the SVG in the end) would see ordinary elements.
 */
import {describe, it, expect} from 'vitest';
import {svgProblems} from '../pipeline/stages/assets.ts';

const svg = (body: string, attributes = '') =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"${attributes}>${body}</svg>`;
const LINK = 'a link to another file or URL';
const CSS = 'an external stylesheet reference';

describe('svgProblems', () => {
  it('should pass a clean drawing and references inside the file', () => {
    expect(svgProblems(svg('<title>Boxes</title><defs><linearGradient id="g"/><path id="p" d="M0,0 L10,10 z"/></defs>' +
      '<rect width="10" height="10" fill="url(#g)" style="stroke: url(#g)"/><a href="#local"><use xlink:href="#p"/></a>' +
      '<set attributeName="fill" to="red"/><style>rect { fill: url(#g) }</style><text>onset href=x url(http://x)</text>'))).toEqual([]);
  });

  it('should refuse links to other files, however the attribute is spelled', () => {
    expect(svgProblems(svg('<image xlink:href="http://x.test/a.png"/>'))).toEqual([LINK]);
    expect(svgProblems(svg('<image XLINK:HREF="a.png"/>'))).toEqual([LINK]);
    expect(svgProblems(svg('<image href=" http://x.test/a.png"/>'))).toEqual([LINK]);
    expect(svgProblems(svg('<a href="#ok"><image src="a.png"/></a>'))).toEqual([LINK]);
    // XML lets any prefix stand for XLink.
    expect(svgProblems(svg('<image x:href="a.png" xmlns:x="http://www.w3.org/1999/xlink"/>'))).toEqual([LINK]);
    expect(svgProblems(svg('<image x:href="#p" xmlns:x="http://www.w3.org/1999/xlink"/>'))).toEqual([]);
  });

  it('should refuse scripts and handlers in any case, also on the root element', () => {
    expect(svgProblems(svg('<SCRIPT>x()</SCRIPT>'))).toEqual(['a `<script>`']);
    expect(svgProblems(svg('', ' onload="x()"'))).toEqual(['an event handler']);
    expect(svgProblems(svg('<rect ONCLICK="x()"/>'))).toEqual(['an event handler']);
    expect(svgProblems(svg('<FOREIGNOBJECT><div/></FOREIGNOBJECT>'))).toEqual(['a `<foreignObject>`']);
    expect(svgProblems(svg('<g><html:iframe xmlns:html="http://www.w3.org/1999/xhtml"/></g>'))).toEqual(['an element `<iframe>`']);
  });

  it('should refuse CSS that loads something, in elements and attributes', () => {
    expect(svgProblems(svg('<style>@import url(x.css);</style>'))).toEqual([CSS]);
    expect(svgProblems(svg('<style><!-- rect { fill: url(http://x.test/a) } --></style>'))).toEqual([CSS]);
    expect(svgProblems(svg('<svg:style xmlns:svg="http://www.w3.org/2000/svg">@import "x.css";</svg:style>'))).toEqual([CSS]);
    expect(svgProblems(svg('<rect style="background:url(http://x.test/a)"/>'))).toEqual([CSS]);
    expect(svgProblems(svg('<rect fill="url(http://x.test/a#g)"/>'))).toEqual([CSS]);
    expect(svgProblems(svg('<rect fill="\\75 rl(a.svg#g)"/>'))).toEqual([CSS]);
    expect(svgProblems(svg('<rect class="x \\75  rl(a.svg#g)"/>'))).toEqual([CSS]);
  });

  it('should refuse animations of links, handlers and styles, with the attribute name in any case', () => {
    expect(svgProblems(svg('<a><set attributeName="href" to="javascript:x()"/></a>'))).toEqual(['an animation that changes a link, handler or style']);
    expect(svgProblems(svg('<rect><animate ATTRIBUTENAME="onclick" to="x()"/></rect>'))).toEqual(['an animation that changes a link, handler or style']);
  });

  it('should look where an HTML parser hides elements that an XML parser would show', () => {
    // `<p>` ends the SVG for an HTML parser; what follows is HTML (a template, unadjusted names).
    expect(svgProblems(svg('<p/><template><image href="http://x.test/a.png"/></template>'))).toEqual([LINK]);
    expect(svgProblems(svg('<p/><template><g onclick="x()"/></template>'))).toEqual(['an event handler']);
    expect(svgProblems(svg('<p/><animate attributename="href" to="http://x.test/"/>'))).toEqual(['an animation that changes a link, handler or style']);
  });

  it('should read drawings with very many elements side by side', () => {
    expect(svgProblems(svg('<g/>'.repeat(150_000)))).toEqual([]);
    expect(svgProblems(svg('<g/>'.repeat(150_000) + '<image href="a.png"/>'))).toEqual([LINK]);
  });
});
