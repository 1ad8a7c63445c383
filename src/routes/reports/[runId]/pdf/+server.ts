import { renderPdf } from '$lib/server/io/pdf';
import { errorResponse } from '$lib/server/http';
import type { RequestHandler } from './$types';

/** The report as a PDF, printed from its own page by headless Chromium. */
export const GET: RequestHandler = async ({ params, url }) => {
  try {
    // loopback when the CLI serves, so a proxy in front does not have to route the server to itself
    const page = new URL(
      `/reports/${encodeURIComponent(params.runId)}`,
      process.env.CONTOURBENCH_SELF_URL ?? url.origin,
    );
    for (const [name, value] of url.searchParams) page.searchParams.append(name, value);
    page.searchParams.set('print', '1');
    const pdf = await renderPdf(page.toString());
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
