import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { AppError } from '../../core/errors';

/** Where Chromium is: CONTOURBENCH_CHROMIUM, else Debian's package. */
export function chromiumPath(): string {
  return process.env.CONTOURBENCH_CHROMIUM ?? '/usr/bin/chromium';
}

/** Headless Chromium with the flags it needs to run as root in a container. */
export function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath))
    throw new AppError(
      'CONFIG_INVALID',
      `PDF rendering needs Chromium at ${executablePath} (apt-get install chromium, or set CONTOURBENCH_CHROMIUM)`,
    );
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Prints a page of this server to PDF with headless Chromium (A4, backgrounds, the page's print CSS).
 * Chromium is started for the one document and closed again: reports are rare, a resident browser is
 * not worth its memory. `credentials` are headers sent with every request of the page.
 */
export async function renderPdf(url: string, credentials: Record<string, string> = {}): Promise<Uint8Array> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    // the printer sees the page as the requester does: their session cookie or bearer token
    await page.setExtraHTTPHeaders(credentials);
    const response = await page.goto(url, { waitUntil: 'networkidle', timeout: 60_000 });
    if (!response || response.status() !== 200)
      throw new AppError('INTERNAL', `the report page ${url} answered ${response?.status() ?? 'nothing'}`);
    await page.emulateMedia({ media: 'print' });
    return await page.pdf({
      format: 'A4',
      printBackground: true,
      margin: { top: '14mm', bottom: '14mm', left: '12mm', right: '12mm' },
      displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate:
        '<div style="font-size:8px;width:100%;text-align:center;color:#555">page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
    });
  } finally {
    await browser.close();
  }
}
