import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PREAUTH_INITIAL, preauthInitial, preauthUpdate } from '../../../src/crypto/preauth.js';
import * as W from '../auth/windows-capture.js';

test('preauth integrity chain of a real Windows SMB 3.1.1 logon', () => {
  assert.deepEqual(PREAUTH_INITIAL, Buffer.alloc(64));
  let h = preauthInitial();
  h = preauthUpdate(h, W.NEGOTIATE_REQUEST);
  assert.deepEqual(h, W.PREAUTH_AFTER_NEGOTIATE_REQUEST);
  h = preauthUpdate(h, W.NEGOTIATE_RESPONSE);
  assert.deepEqual(h, W.PREAUTH_AFTER_NEGOTIATE_RESPONSE);
  h = preauthUpdate(h, W.SESSION_SETUP_REQUEST_1);
  assert.deepEqual(h, W.PREAUTH_AFTER_SESSION_SETUP_REQUEST_1);
  h = preauthUpdate(h, [W.SESSION_SETUP_RESPONSE_1.subarray(0, 64), W.SESSION_SETUP_RESPONSE_1.subarray(64)]);
  assert.deepEqual(h, W.PREAUTH_AFTER_SESSION_SETUP_RESPONSE_1);
  h = preauthUpdate(h, W.SESSION_SETUP_REQUEST_2);
  assert.deepEqual(h, W.PREAUTH_AFTER_SESSION_SETUP_REQUEST_2);
});
