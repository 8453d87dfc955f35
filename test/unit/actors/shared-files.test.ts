import assert from 'node:assert/strict';
import { filesOf, releaseFiles, unheldSharedFiles, type CheckpointFiles } from '../../../actors/jobmaster/shared-files.js';
import type { StateHandle } from '../../../lib/task/descriptor.js';

const root = '/ckpt/job';
const file = (id: number, subtask: number) => `${root}/chk-${id}/v-${subtask}.state`;

/** Checkpoint `id` of two subtasks; `shares[i]` the earlier files subtask i refers to. */
function checkpoint(id: number, shares: [string[], string[]] = [[], []]): CheckpointFiles {
  const handles: StateHandle[] = shares.map((shared, i) => ({ vertexId: 'v', subtaskIndex: i, path: file(id, i), bytes: 1, ...(shared.length === 0 ? {} : { shared }) }));
  return { dir: `${root}/chk-${id}`, handles };
}

describe('jobmaster - shared checkpoint files (reference counting through the store)', () => {
  it('a checkpoint refers to its own files and the ones it shares', () => {
    assert.deepEqual(filesOf(checkpoint(2, [[file(1, 0)], []])).sort(), [file(1, 0), file(2, 0), file(2, 1)].sort());
  });

  it('a subsumed checkpoint keeps the files a retained one still refers to, and loses the rest', () => {
    const c1 = checkpoint(1);
    const c2 = checkpoint(2, [[file(1, 0)], [file(1, 1)]]); // nothing changed
    const c3 = checkpoint(3, [[file(1, 0)], []]); // subtask 1 changed
    // Retention 2: storing 3 subsumes 1; 2 and 3 still refer to 1's subtask-0 file, 2 to its subtask-1 file.
    let release = releaseFiles([c1], [c2, c3]);
    assert.deepEqual(release.files, []);
    assert.deepEqual(release.dirs, [`${root}/chk-1`]);
    assert.ok(release.referenced.has(file(1, 0)) && release.referenced.has(file(1, 1)));
    // Storing 4 (all changed) subsumes 2: 1's subtask-1 file is referred to by no one any more.
    const c4 = checkpoint(4);
    release = releaseFiles([c2], [c3, c4]);
    assert.deepEqual(release.files.sort(), [file(1, 1), file(2, 0), file(2, 1)].sort());
    assert.deepEqual(release.dirs.sort(), [`${root}/chk-1`, `${root}/chk-2`].sort());
    assert.ok(release.referenced.has(file(1, 0)), '3 still refers to it');
    // Storing 5 subsumes 3: the last file of checkpoint 1 goes too.
    release = releaseFiles([c3], [c4, checkpoint(5, [[file(4, 0)], [file(4, 1)]])]);
    assert.deepEqual(release.files.sort(), [file(1, 0), file(3, 0), file(3, 1)].sort());
    assert.deepEqual(release.dirs.sort(), [`${root}/chk-1`, `${root}/chk-3`].sort());
  });

  it('every file is deleted exactly when its last retained referrer is subsumed, over a long run', () => {
    // 2 subtasks, retention 3; in every checkpoint subtask 0 changes, subtask 1 changes every fourth time.
    const retained: CheckpointFiles[] = [];
    const deleted = new Set<string>();
    const holder = [file(1, 0), file(1, 1)];
    retained.push(checkpoint(1));
    for (let id = 2; id <= 20; id++) {
      const shares: [string[], string[]] = [[], id % 4 === 0 ? [] : [holder[1]!]];
      holder[0] = file(id, 0);
      if (id % 4 === 0) holder[1] = file(id, 1);
      const c = checkpoint(id, shares);
      retained.push(c);
      const subsumed = retained.length > 3 ? retained.splice(0, retained.length - 3) : [];
      for (const f of releaseFiles(subsumed, retained).files) {
        assert.equal(deleted.has(f), false, `${f} deleted twice`);
        deleted.add(f);
      }
      // Nothing a retained checkpoint refers to is ever deleted.
      for (const f of retained.flatMap(filesOf)) assert.equal(deleted.has(f), false, `${f} is referred to by a retained checkpoint but was deleted`);
    }
    // Everything not referred to is deleted: no leak.
    const live = new Set(retained.flatMap(filesOf));
    for (let id = 1; id <= 20; id++) for (const i of [0, 1]) if (!live.has(file(id, i))) assert.ok(deleted.has(file(id, i)) || (i === 1 && id % 4 !== 0 && id !== 1), file(id, i));
  });

  it('a checkpoint sharing a file no retained checkpoint holds is refused (its base was subsumed meanwhile)', () => {
    const c2 = checkpoint(2);
    const c3 = checkpoint(3, [[file(2, 0)], []]);
    assert.deepEqual(unheldSharedFiles(c3, [c2]), []);
    assert.deepEqual(unheldSharedFiles(c3, [checkpoint(4)]), [file(2, 0)]);
    // Held by a retained checkpoint that shares it itself.
    assert.deepEqual(unheldSharedFiles(checkpoint(5, [[file(2, 0)], []]), [c3]), []);
  });
});
