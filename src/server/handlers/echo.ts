import { decodeEchoRequest, encodeEchoResponse } from '../../protocol/smb2/commands/echo.js';
import type { Outcome, RequestContext } from '../context.js';

export function handleEcho(ctx: RequestContext): Outcome {
  decodeEchoRequest(ctx.r);
  return { body: (w) => encodeEchoResponse(w) };
}
