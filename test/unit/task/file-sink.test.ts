import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TransactionalFileSink, type FileSinkState } from '../../../lib/task/file-sink.js';
import { TempDirs } from '../../support/temp-dirs.js';

const dirs = new TempDirs();
const newDir = () => dirs.make('file-sink');
const files = (dir: string) => readdirSync(dir).sort();
const read = (dir: string, name: string) => readFileSync(path.join(dir, name), 'utf8');

describe('task - transactional file sink', () => {
  afterEach(() => dirs.removeAll());
  it('file sink - pre-commit on a barrier, commit on completion, idempotently', () => {
    const dir = newDir();
    const sink = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true });
    sink.write('a');
    sink.write(['b', 2]);
    assert.deepEqual(files(dir), ['.part-0-1.inprogress']);
    const state = sink.snapshot(1);
    assert.deepEqual(state, { pending: [{ subtask: 0, epoch: 1, checkpointId: 1 }] });
    sink.write('c');
    sink.snapshot(2);
    assert.deepEqual(files(dir), ['.part-0-1.inprogress', '.part-0-2.inprogress']);
    sink.commit(1);
    assert.deepEqual(files(dir), ['.part-0-2.inprogress', 'part-0-1']);
    assert.equal(read(dir, 'part-0-1'), 'a\n["b",2]\n');
    sink.commit(1);
    sink.commit(2);
    assert.deepEqual(files(dir), ['part-0-1', 'part-0-2']);
    // A replayed commit of files already renamed is a no-op.
    new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, restored: { checkpointId: 2, states: [state] } });
    assert.deepEqual(files(dir), ['part-0-1', 'part-0-2']);
  });

  it('file sink - an aborted checkpoint keeps its pre-committed file for the next completed one', () => {
    const dir = newDir();
    const sink = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true });
    sink.write('x');
    sink.snapshot(1);
    writeFileSync(path.join(dir, '.part-0-99.inprogress'), 'stray\n');
    sink.abort(1);
    assert.deepEqual(files(dir), ['.part-0-1.inprogress']);
    sink.write('y');
    sink.snapshot(2);
    sink.commit(2);
    assert.deepEqual(files(dir), ['part-0-1', 'part-0-2']);
  });

  it('file sink - restore commits the restored pending files and deletes other in-progress files of the subtasks taken over', () => {
    const dir = newDir();
    // Old run at parallelism 3: subtask 2 pre-committed at checkpoint 4, then wrote more and died.
    const old = new TransactionalFileSink({ dir, subtaskIndex: 2, parallelism: 3, checkpointing: true });
    old.write('kept');
    const state: FileSinkState = old.snapshot(4);
    old.write('lost');
    old.flush();
    const other = new TransactionalFileSink({ dir, subtaskIndex: 1, parallelism: 3, checkpointing: true });
    other.write('lost too');
    other.flush();
    assert.deepEqual(files(dir), ['.part-1-1.inprogress', '.part-2-1.inprogress', '.part-2-5.inprogress']);
    // Restored at parallelism 2: subtask 0 takes over old subtask 2 (2 mod 2), subtask 1 old subtask 1.
    new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 2, checkpointing: true, restored: { checkpointId: 4, states: [state] } });
    assert.deepEqual(files(dir), ['.part-1-1.inprogress', 'part-2-1']);
    new TransactionalFileSink({ dir, subtaskIndex: 1, parallelism: 2, checkpointing: true, restored: { checkpointId: 4, states: [{ pending: [] }] } });
    assert.deepEqual(files(dir), ['part-2-1']);
    assert.equal(read(dir, 'part-2-1'), 'kept\n');
  });

  it('file sink - a pending file that is gone and was never committed fails loudly', () => {
    const dir = newDir();
    assert.throws(
      () => new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, restored: { checkpointId: 1, states: [{ pending: [{ subtask: 0, epoch: 1, checkpointId: 1 }] }] } }),
      { code: 'SINK_COMMIT_FAILED' },
    );
  });

  it('file sink - without checkpointing it commits when the input ends', () => {
    const dir = newDir();
    const sink = new TransactionalFileSink({ dir, subtaskIndex: 3, parallelism: 4, checkpointing: false });
    sink.write(1);
    sink.write(2);
    sink.close();
    assert.deepEqual(files(dir), ['part-3-1']);
    assert.equal(read(dir, 'part-3-1'), '1\n2\n');
  });
});

describe('task - transactional file sink - one directory, several jobs', () => {
  afterEach(() => dirs.removeAll());
  it('file sink - part files carry the job prefix, so two jobs never rename over each other', () => {
    const dir = newDir();
    const a = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'jobA' });
    const b = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'jobB' });
    a.write('from a');
    b.write('from b');
    assert.deepEqual(a.snapshot(1), { prefix: 'jobA', pending: [{ prefix: 'jobA', subtask: 0, epoch: 1, checkpointId: 1 }] });
    b.snapshot(1);
    a.commit(1);
    b.commit(1);
    assert.deepEqual(files(dir), ['part-jobA-0-1', 'part-jobB-0-1']);
    assert.equal(read(dir, 'part-jobA-0-1'), 'from a\n');
    assert.equal(read(dir, 'part-jobB-0-1'), 'from b\n');
  });

  it("file sink - a job restored from another job's savepoint commits that job's pending files and deletes only its strays", () => {
    const dir = newDir();
    const stopped = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'old' });
    stopped.write('in the savepoint');
    const state = stopped.snapshot(5);
    stopped.write('after the savepoint');
    stopped.flush();
    const other = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'other' });
    other.write('another job');
    other.flush();
    new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'new', restored: { checkpointId: 5, states: [state] } });
    assert.deepEqual(files(dir), ['.part-other-0-1.inprogress', 'part-old-0-1']);
    assert.equal(read(dir, 'part-old-0-1'), 'in the savepoint\n');
  });
});

describe('task - transactional file sink - epochs', () => {
  afterEach(() => dirs.removeAll());
  it('file sink - a restore never reuses the name of a file it committed (checkpoint ids restart after a savepoint)', () => {
    const dir = newDir();
    // Restored from savepoint 7 of another job: epochs start at 8 while this job's checkpoint ids start at 1.
    const first = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'job', restored: { checkpointId: 7, states: [{ pending: [] }] } });
    first.write('a');
    first.snapshot(1);
    first.commit(1);
    first.write('b');
    const state = first.snapshot(2);
    first.commit(2);
    assert.deepEqual(files(dir), ['part-job-0-8', 'part-job-0-9']);
    // A failover restores checkpoint 2 of this job: epoch 3 would be fine, but must stay above 9.
    const again = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true, filePrefix: 'job', restored: { checkpointId: 2, states: [state] } });
    again.write('c');
    again.snapshot(3);
    again.commit(3);
    assert.deepEqual(files(dir), ['part-job-0-10', 'part-job-0-8', 'part-job-0-9']);
    assert.equal(read(dir, 'part-job-0-8') + read(dir, 'part-job-0-9') + read(dir, 'part-job-0-10'), 'a\nb\nc\n');
  });
});
