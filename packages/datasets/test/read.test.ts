import { parseImageCell } from '../src/read';

describe('parseImageCell', () => {
  it('reads plain base64, Python list reprs and JSON lists', () => {
    expect(parseImageCell('iVBORw0K', 'f:1')).toEqual(['iVBORw0K']);
    expect(parseImageCell("['iVBORa', 'iVBORb']", 'f:1')).toEqual(['iVBORa', 'iVBORb']);
    expect(parseImageCell('["x"]', 'f:1')).toEqual(['x']);
    expect(parseImageCell('[]', 'f:1')).toEqual([]);
  });

  it('names the location of a malformed list', () => {
    expect(() => parseImageCell('[abc]', 'pred.tsv:3:3')).toThrow(
      'pred.tsv:3:3: image column: list item is not a quoted string: abc',
    );
    expect(() => parseImageCell("['a'", 'pred.tsv:4:3')).toThrow(
      /^pred\.tsv:4:3: image column: unterminated/,
    );
  });
});
