/**
 * DescribeEndpoint: where devices and SDKs reach this installation.
 *
 * AWS answers a host name (`xxxx-ats.iot.{region}.amazonaws.com`) and clients add the well-known
 * port (8883 MQTT, 443/8443 HTTPS). Thingport's ports are configurable, so it answers `host:port`:
 * - `iot:Data`, `iot:Data-ATS` (the default, as on AWS, is `iot:Data`): the MQTT-over-TLS listener,
 *   what device SDKs connect to (else plain MQTT, else HTTPS, whichever is on);
 * - `iot:CredentialProvider`, `iot:Jobs`: the HTTPS listener (credentials and the Jobs data plane
 *   are HTTP APIs).
 * Endpoint types: service model `DescribeEndpoint` documentation (reference §4.1).
 */
import { IdentityError } from './errors.js';

export const ENDPOINT_TYPES = ['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

/** The listeners' URLs (null = off), e.g. `mqtts://127.0.0.1:8883`. */
export interface ListenerUrls {
  mqtts: string | null;
  https: string | null;
  mqtt: string | null;
}

/** `host:port` of a listener URL. */
function hostPort(url: string): string {
  const u = new URL(url);
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '';
  return port === '' ? u.hostname : `${u.hostname}:${port}`;
}

/** The endpoint address for `endpointType` (default `iot:Data`). */
export function describeEndpoint(endpoints: ListenerUrls, endpointType: string | undefined): string {
  const type = endpointType ?? 'iot:Data';
  if (!(ENDPOINT_TYPES as readonly string[]).includes(type)) {
    throw new IdentityError('request.invalid', `endpointType must be one of ${ENDPOINT_TYPES.join(', ')}, not '${type}'`);
  }
  const url = type === 'iot:Data' || type === 'iot:Data-ATS' ? (endpoints.mqtts ?? endpoints.mqtt ?? endpoints.https) : endpoints.https;
  if (url === null) {
    const needs = type === 'iot:Data' || type === 'iot:Data-ATS' ? 'an MQTT or HTTPS listener' : 'the HTTPS listener (--https-port)';
    throw new IdentityError('endpoint.unavailable', `No ${type} endpoint: this server has ${needs} turned off`);
  }
  return hostPort(url);
}
