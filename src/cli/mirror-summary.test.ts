import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unfinishedMirrorSummary, type MirrorTally } from './mirror-summary.js';

const tally = (t: Partial<MirrorTally>): MirrorTally => ({
  planned: 1,
  transferred: 0,
  bytes: 0,
  failed: 0,
  failedBytes: 0,
  unlisted: 0,
  conflicts: 0,
  unmade: 0,
  unsent: 0,
  deleted: 0,
  ...t,
});
const ran = { interrupted: false, dryRun: false, delete: true };

test('a directory the server would not list is counted, and --delete says it was held back', () => {
  assert.equal(
    unfinishedMirrorSummary(tally({ transferred: 1, bytes: 2, unlisted: 1 }), ran),
    'Transferred 1 of 1 file(s), 2 B; 1 directory not listed; 0 deleted (deletions held back by the failure).',
  );
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 2, transferred: 1, bytes: 2, failed: 1, unlisted: 2 }), ran),
    'Transferred 1 of 2 file(s), 2 B; 1 failed; 2 directories not listed; 0 deleted (deletions held back by the failure).',
  );
});

test('a directory the destination refused to make is counted', () => {
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 1, transferred: 1, bytes: 2, unmade: 1 }), ran),
    'Transferred 1 of 1 file(s), 2 B; 1 directory not made; 0 deleted (deletions held back by the failure).',
  );
});

test('a dry run says what it would have done', () => {
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 2, transferred: 2, bytes: 6, unlisted: 1 }), {
      ...ran,
      dryRun: true,
    }),
    'Would transfer 2 file(s), 6 B; 1 directory not listed; would delete 0 (deletions held back by the failure).',
  );
});

test('without --delete nothing is said of deletions held back; Ctrl-C counts what was not transferred', () => {
  const noDelete = { ...ran, delete: false };
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 3, transferred: 2, bytes: 2, failed: 1 }), noDelete),
    'Transferred 2 of 3 file(s), 2 B; 1 failed; 0 deleted.',
  );
  // Bytes moved for a file that then failed are not the transferred files': said apart.
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 1, failed: 1, failedBytes: 1536 }), noDelete),
    'Transferred 0 of 1 file(s), 0 B; 1 failed after moving 1.50 KiB; 0 deleted.',
  );
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 3, transferred: 1, bytes: 1 }), { ...ran, interrupted: true }),
    'Transferred 1 of 3 file(s), 1 B; 0 deleted; interrupted: 2 not transferred.',
  );
  assert.equal(unfinishedMirrorSummary(tally({ planned: undefined }), ran), undefined);
});

test('a lost connection counts the files never tried as not transferred, not as failures', () => {
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 5, transferred: 2, bytes: 2, failed: 1, unsent: 2 }), ran),
    'Transferred 2 of 5 file(s), 2 B; 1 failed; 0 deleted (deletions held back by the failure); connection lost: 2 not transferred.',
  );
});

test('a type conflict is counted apart from the planned files', () => {
  assert.equal(
    unfinishedMirrorSummary(tally({ planned: 2, transferred: 2, bytes: 4, conflicts: 1 }), {
      ...ran,
      delete: false,
    }),
    'Transferred 2 of 2 file(s), 4 B; 1 type conflict; 0 deleted.',
  );
});
