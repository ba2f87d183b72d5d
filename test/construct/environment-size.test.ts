// How a function's environment is measured against Lambda's 4 KB: compact JSON, non-ASCII escaped, each
// token counted as the longest value it may stand for.
import { TOKEN_BYTES, environmentBytes, valueBytes } from '../../lib/private/environment-size';

describe('valueBytes', () => {
  test.each<[string, unknown, number]>([
    ['a plain string, with its quotes', 'nightly', 9],
    ['a JSON string, each inner quote escaped', '{"a":"b"}', 2 + 13],
    ['a non-ASCII character as its \\u escape', 'é', 2 + 6],
    ['a character outside the BMP as two escapes', '😀', 2 + 12],
    ['a newline as its escape', 'a\nb', 2 + 4],
    ['a Ref as one token', { Ref: 'PlanBucket' }, 2 + TOKEN_BYTES],
    ['a GetAtt as one token', { 'Fn::GetAtt': ['Machine', 'Arn'] }, 2 + TOKEN_BYTES],
    ['a Fn::Join of literals and a token', { 'Fn::Join': ['', ['{"x":"', { Ref: 'P' }, '"}']] }, 2 + 12 + TOKEN_BYTES],
    ['a Fn::Join with a delimiter', { 'Fn::Join': ['--', ['a', 'b', 'c']] }, 2 + 7],
  ])('counts %s', (_name, value, bytes) => {
    expect(valueBytes(value)).toEqual(bytes);
  });
});

describe('environmentBytes', () => {
  test('is the length of the compact JSON object', () => {
    const environment = { POLICY_ID: 'MyStack/Nightly', INSTANCE_TAGS: '{"backup":"nightly"}' };
    expect(environmentBytes(environment)).toEqual(JSON.stringify(environment).length);
  });

  test('is 2 for no variables', () => {
    expect(environmentBytes({})).toEqual(2);
  });
});
