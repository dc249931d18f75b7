import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KnowledgeGraph, readOpenKe } from '../src/kg';

describe('KnowledgeGraph', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('assigns ids by first appearance, drops duplicates and self-loops', () => {
    const kg = new KnowledgeGraph();
    expect(kg.add('法国', '位于', '西欧', 'territory', 'region')).toBe(true);
    expect(kg.add('法国', '位于', '西欧')).toBe(false);
    expect(kg.add('法国', '使用货币', '欧元')).toBe(true);
    expect(kg.add('欧元', '使用货币', '欧元')).toBe(false);
    expect(kg.entities()).toEqual(['法国', '西欧', '欧元']);
    expect(kg.relations()).toEqual(['位于', '使用货币']);
    expect(kg.numTriples).toBe(2);
    expect(kg.relationCounts()).toEqual({ 位于: 1, 使用货币: 1 });
    expect(kg.typeOf('西欧')).toBe('region');
  });

  it('writes the OpenKE layout exactly (count header, name<TAB>id, "head tail relation")', async () => {
    const kg = new KnowledgeGraph();
    kg.add('狗脸', '关键词', '汪星人');
    kg.add('狗脸', '属于子类', '哺乳动物');
    kg.add('猫脸', '属于子类', '哺乳动物');
    await kg.writeTo(dir);
    const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
    expect(read('entity2id.txt')).toBe('4\n狗脸\t0\n汪星人\t1\n哺乳动物\t2\n猫脸\t3\n');
    expect(read('relation2id.txt')).toBe('2\n关键词\t0\n属于子类\t1\n');
    expect(read('train2id.txt')).toBe('3\n0 1 0\n0 2 1\n3 2 1\n');
    expect(read('triples.tsv')).toBe(
      '狗脸\t关键词\t汪星人\n狗脸\t属于子类\t哺乳动物\n猫脸\t属于子类\t哺乳动物\n',
    );
    expect(readOpenKe(dir).triples).toEqual([...kg.triples()]);
  });

  it('rejects names that would break the files', () => {
    const kg = new KnowledgeGraph();
    expect(() => kg.add('a\tb', 'r', 'c')).toThrow(/tab/);
    expect(() => kg.add(' a', 'r', 'c')).toThrow(/padded/);
    expect(() => kg.add('a', '', 'c')).toThrow(/relation/);
  });

  it('names the file and line of a malformed OpenKE file', async () => {
    const kg = new KnowledgeGraph();
    kg.add('a', 'r', 'b');
    await kg.writeTo(dir);
    fs.writeFileSync(path.join(dir, 'train2id.txt'), '1\n0 7 0\n');
    expect(() => readOpenKe(dir)).toThrow(/train2id\.txt:2/);
    fs.writeFileSync(path.join(dir, 'entity2id.txt'), '3\na\t0\nb\t1\n');
    expect(() => readOpenKe(dir)).toThrow(/entity2id\.txt:1: header says 3/);
  });
});
