import { describe, expect, it } from 'vitest';
import { expandNodeset, foldNodeset } from '../../lib/nodeset';

describe('expandNodeset (ClusterShell syntax)', () => {
  it('expands the node sets of the runbooks', () => {
    expect(expandNodeset('ocean[1-1000]')).toHaveLength(1000);
    expect(expandNodeset('ocean[1-1000]').slice(0, 2)).toEqual(['ocean1', 'ocean2']);
    expect(expandNodeset('iscsi_srv[1-2]')).toEqual(['iscsi_srv1', 'iscsi_srv2']);
    expect(expandNodeset('x3000c0s[1-3]b0n[0-1]')).toEqual([
      'x3000c0s1b0n0', 'x3000c0s1b0n1', 'x3000c0s2b0n0', 'x3000c0s2b0n1', 'x3000c0s3b0n0', 'x3000c0s3b0n1',
    ]);
  });

  it('handles comma lists, padding, steps, single names and duplicates', () => {
    expect(expandNodeset('node[001-003,010]')).toEqual(['node001', 'node002', 'node003', 'node010']);
    expect(expandNodeset('node[08-10]')).toEqual(['node08', 'node09', 'node10']);
    expect(expandNodeset('a[1-7/3],b, c[2]')).toEqual(['a1', 'a4', 'a7', 'b', 'c2']);
    expect(expandNodeset('n[1-3],n2')).toEqual(['n1', 'n2', 'n3']);
    expect(expandNodeset('ncn-w001')).toEqual(['ncn-w001']);
  });

  it('says what is wrong with a bad node set', () => {
    expect(() => expandNodeset('ocean[1-')).toThrow(/unbalanced "\["/);
    expect(() => expandNodeset('ocean1-2]')).toThrow(/unbalanced "\]"/);
    expect(() => expandNodeset('ocean[5-1]')).toThrow(/goes backwards/);
    expect(() => expandNodeset('ocean[a-b]')).toThrow(/bad range "a-b"/);
    expect(() => expandNodeset('ocean[]')).toThrow(/empty "\[\]"/);
    expect(() => expandNodeset('a,,b')).toThrow(/empty element/);
    expect(() => expandNodeset('@compute')).toThrow(/node groups are not supported/);
    expect(() => expandNodeset('n[[1-2]]')).toThrow(/nested/);
    expect(() => expandNodeset('n[1-2000000]')).toThrow(/larger than/);
    expect(() => expandNodeset('n[01-100]')).toThrow(/mixes padding widths/);
  });
});

describe('foldNodeset', () => {
  it('folds back what expand produces', () => {
    for (const set of ['ocean[1-1000]', 'x3000c0s[1-3]b0n[0-1]', 'node[001-003,010]', 'node[08-10]', 'a[1,4,7],b,c2']) {
      expect(foldNodeset(expandNodeset(set))).toBe(set);
    }
  });

  it('keeps differently padded numbers apart and sorts naturally', () => {
    expect(foldNodeset(['n1', 'n01', 'n2', 'n02', 'm3'])).toBe('m3,n[1-2,01-02]');
    expect(foldNodeset(['node10', 'node9', 'node2'])).toBe('node[2,9-10]');
    expect(expandNodeset(foldNodeset(['x1c0', 'x1c1', 'x2c0', 'x2c1', 'x3c0']))).toEqual(expect.arrayContaining(['x1c0', 'x1c1', 'x2c0', 'x2c1', 'x3c0']));
  });
});
