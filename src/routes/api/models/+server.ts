import { json } from '@sveltejs/kit';
import { AppError } from '$lib/core/errors';
import { parseModelCardJson } from '$lib/core/models/model-card';
import { clientAddress, errorResponse, limitedRequestBody } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit } from '$lib/server/services/account.service';
import { listModelVersions, registerModel } from '$lib/server/services/model-registry.service';
import type { RequestHandler } from './$types';

/** The registered model versions with their cards. */
export const GET: RequestHandler = async () => {
  try {
    const runtime = await sharedRuntime();
    return json(await listModelVersions(runtime.database.db));
  } catch (error) {
    return errorResponse(error);
  }
};

/**
 * Registers a model: the ONNX file as the body (application/octet-stream) and the model card as JSON,
 * base64-encoded, in the `Model-Card` header (a card is a few kilobytes; the file may be hundreds of
 * megabytes, so neither is wrapped in the other). 201 when registered, 200 when exactly these bytes and
 * card were registered already.
 */
export const POST: RequestHandler = async (event) => {
  const { request } = event;
  try {
    const runtime = await sharedRuntime();
    const header = request.headers.get('model-card');
    if (header === null)
      throw new AppError(
        'INVALID_ARGUMENT',
        'the Model-Card header (the model card JSON, base64) is missing',
      );
    // Parsed here so a bad card is refused before the body is read.
    const card = parseModelCardJson(Buffer.from(header, 'base64').toString('utf8'), 'Model-Card header');
    const limit = runtime.config.maxModelBytes;
    const body = limitedRequestBody(request, limit);
    const bytes = body === null ? new Uint8Array() : new Uint8Array(await new Response(body).arrayBuffer());
    if (bytes.length === 0)
      throw new AppError('INVALID_INPUT', 'the request has no body; send the ONNX file as the body');
    const result = await registerModel(
      runtime.database.db,
      runtime.blobs,
      bytes,
      card,
      {
        onnx: 'uploaded model',
        card: 'Model-Card header',
      },
      { maxBytes: limit },
    );
    if (result.created)
      await audit(runtime.database.db, actorOf(event.locals.principal, clientAddress(event)), {
        action: 'model.register',
        objectType: 'model_version',
        objectId: `${card.name}@${card.version}`,
      });
    return json(result, { status: result.created ? 201 : 200 });
  } catch (error) {
    return errorResponse(error);
  }
};
