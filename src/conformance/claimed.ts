/**
 * The conformance tests edgecnn claims to pass, per suite folder of ../shared/conformance/onnx. Explicit on
 * purpose: a test joins the list when its operators are implemented and it passes, and `npm test` fails when a
 * claimed test stops passing. Regenerate candidates with `node scripts/list-claimable-tests.mjs`.
 */
export const CLAIMED_TESTS: Record<string, readonly string[]> = {};
