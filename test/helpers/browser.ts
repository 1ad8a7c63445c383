export { launchChromium } from '../../src/lib/server/io/pdf';
