// The pipeline prints with the system's Chrome/Chromium (see pipeline/targets/pdf/chrome.ts);
// puppeteer (a dependency of the Ace accessibility checker) must not download its own.
module.exports = {skipDownload: true};
