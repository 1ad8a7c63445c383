import { renderPdf } from '$lib/server/io/pdf';
import { clientAddress, errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { actorOf, audit } from '$lib/server/services/account.service';
import type { RequestHandler } from './$types';

/** The report as a PDF, printed from its own page by headless Chromium. */
export const GET: RequestHandler = async (event) => {
  const { params, url, request } = event;
  try {
    // loopback when the CLI serves, so a proxy in front does not have to route the server to itself
    const page = new URL(
      `/reports/${encodeURIComponent(params.runId)}`,
      process.env.CONTOURBENCH_SELF_URL ?? url.origin,
    );
    for (const [name, value] of url.searchParams) page.searchParams.append(name, value);
    page.searchParams.set('print', '1');
    const credentials: Record<string, string> = {};
    for (const name of ['cookie', 'authorization']) {
      const value = request.headers.get(name);
      if (value !== null) credentials[name] = value;
    }
    const pdf = await renderPdf(page.toString(), credentials);
    await audit((await sharedRuntime()).database.db, actorOf(event.locals.principal, clientAddress(event)), {
      action: 'export.report_pdf',
      objectType: 'evaluation_run',
      objectId: params.runId,
      details: { bytes: pdf.length },
    });
    return new Response(new Uint8Array(pdf), {
      headers: {
        'content-type': 'application/pdf',
        'content-disposition': `attachment; filename="contourbench-run-${params.runId}-report.pdf"`,
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
};
