/**
 * The TLS record layer's content type of a handshake record (RFC 8446 5.1): the first byte of a
 * ClientHello on the wire. Here, in pure protocol/, so that tls/ and protocol/ read one constant.
 */
export const TLS_HANDSHAKE_RECORD = 0x16;
