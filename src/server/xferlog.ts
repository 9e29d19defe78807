import type { TransferRecord } from './options.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** ctime(3) in local time, as wu-ftpd and vsftpd write it: `Wed Dec  2 10:14:00 2026`. */
function ctime(d: Date): string {
  const day = String(d.getDate()).padStart(2, ' ');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${day} ${time} ${d.getFullYear()}`;
}

/**
 * One line of the wu-ftpd/vsftpd/ProFTPD transfer log (xferlog(5)), without the newline:
 * `current-time transfer-time remote-host file-size filename transfer-type special-action-flag
 * direction access-mode username service-name authentication-method authenticated-user-id
 * completion-status`. The file name is the client's view of the path (inside the user's root),
 * with white space replaced by `_` so that the line stays split by spaces (as ProFTPD does); the
 * transfer time is whole seconds, at least 1 (as vsftpd writes it).
 */
export function formatXferlog(r: TransferRecord): string {
  const seconds = Math.max(1, Math.round(r.ms / 1000));
  const name = (r.path ?? '-').replace(/\s/g, '_') || '-';
  return [
    ctime(r.at),
    seconds,
    r.remoteAddress,
    r.bytes,
    name,
    r.type === 'A' ? 'a' : 'b',
    '_', // no compression or tar
    r.direction === 'download' ? 'o' : 'i',
    r.anonymous ? 'a' : 'r', // anonymous, or a real (authenticated) user
    // Where vsftpd writes an anonymous login's password (an e-mail address, or a real password typed
    // by mistake), `*`: passwords are never written.
    r.anonymous ? '*' : r.user.replace(/\s/g, '_') || '-',
    'ftp',
    '0', // no RFC 931 authentication
    '*',
    r.result === 'ok' ? 'c' : 'i',
  ].join(' ');
}
