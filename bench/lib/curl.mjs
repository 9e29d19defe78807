// curl against a benchmark target ({ port, user, password, curlTls? }): TLS required, any certificate.
import { CURL, HOST } from './paths.mjs';
import { runProcess } from './run-process.mjs';

function curlBase(t) {
  return [
    '--disable',
    '--silent',
    '--show-error',
    '--insecure',
    '--ssl-reqd',
    '--user',
    `${t.user}:${t.password}`,
    '--connect-timeout',
    '15',
    ...(t.curlTls ?? []),
  ];
}

/** The URL of path `p` on target `t`. */
export const url = (t, p) => `ftp://${HOST}:${t.port}${p}`;

export function curl(t, args, timeoutMs) {
  return runProcess(CURL, [...curlBase(t), ...args], { timeoutMs });
}
