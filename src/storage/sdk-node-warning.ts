/** The AWS SDK's own switch for its NodeVersionSupportWarning (@aws-sdk/core, client submodule). */
const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * Makes an SDK client without the SDK's warning, on Node < 22, that its releases after January 2027
 * will need Node 22: several lines on stderr, in the journal, that read as Ferry's problem while
 * Ferry supports Node 20. The SDK reads its switch when a client is made and then counts the
 * warning as given for the whole process (the credential providers' clients too), so the switch is
 * set for that moment only (the environment stays the operator's; an operator's own value is kept).
 */
export function withoutNodeVersionWarning<T>(make: () => T): T {
  if (process.env[SWITCH] !== undefined) return make();
  process.env[SWITCH] = 'true';
  try {
    return make();
  } finally {
    delete process.env[SWITCH];
  }
}
