/**
 * identity: certificates and CAs, access keys (later: principals, IoT policies, authorizers).
 */
export { ensureServerCertificates, loadCa } from './ca.js';
export type { CertificateAuthority, ServerCertificates } from './ca.js';
export { ADMIN_PROFILE, ensureAdminCredentials, readAdminKey } from './admin-key.js';
export type { AdminCredentials, AdminKey } from './admin-key.js';
