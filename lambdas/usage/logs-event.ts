import { gunzipSync } from 'node:zlib';
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent } from 'aws-lambda';
import { GatepassError } from '../core/model/errors.ts';

/** The largest decoded batch accepted (CloudWatch Logs delivers at most about 1 MB). */
const MAX_DECODED_BYTES = 16 * 1024 * 1024;

/**
 * The log events of a CloudWatch Logs subscription delivery (`awslogs.data`: gzip, then
 * base64). A `CONTROL_MESSAGE` (sent when the subscription is created) has no events.
 * A payload that cannot be decoded throws: it is not a delivery this function can count.
 *
 * @example
 * const { logEvents } = decodeLogsEvent(event); // [{ id, timestamp, message }, …]
 */
export function decodeLogsEvent(event: CloudWatchLogsEvent): CloudWatchLogsDecodedData {
  const data = event?.awslogs?.data;
  if (typeof data !== 'string' || data === '')
    throw new GatepassError('ERR_VALIDATION', 'not a CloudWatch Logs delivery: awslogs.data is missing');
  let decoded: CloudWatchLogsDecodedData;
  try {
    decoded = JSON.parse(
      gunzipSync(Buffer.from(data, 'base64'), { maxOutputLength: MAX_DECODED_BYTES }).toString('utf8'),
    ) as CloudWatchLogsDecodedData;
  } catch (cause) {
    throw new GatepassError('ERR_VALIDATION', 'awslogs.data is not gzip-compressed JSON in base64', { cause });
  }
  if (decoded.messageType === 'CONTROL_MESSAGE') return { ...decoded, logEvents: [] };
  if (!Array.isArray(decoded.logEvents)) throw new GatepassError('ERR_VALIDATION', 'the delivery has no logEvents');
  return decoded;
}
