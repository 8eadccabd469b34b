// The consent calls live in the example client, so tests exercise exactly what clients run.
export {
  GRANT_ACCESS,
  GRANT_TYPED_DATA,
  REVOKE_ACCESS,
  REVOKE_TYPED_DATA,
  grantAccess as grant,
  revokeAccess as revoke,
  signTypedData,
} from '../../examples/client.js';
