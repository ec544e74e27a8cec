// Drives the status page in Debian's chromium, headless, through playwright-core (which
// downloads no browser of its own). Run by tests/it/dashboard.rs:
//
//   PLAYWRIGHT_CORE=<…/node_modules/playwright-core> node dashboard.cjs URL OUT_DIR DATABASE
//
// Reads the timeline's marks of DATABASE, saves OUT_DIR/dashboard.png, chooses the middle
// restore point on the timeline, presses "Restore to a copy" beside it, saves OUT_DIR/copy.png,
// and prints one JSON document: the marks, the point chosen, and what the copy's page reported.

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const [url, outDir, database] = process.argv.slice(2);

async function main() {
  // A fresh profile; without the networking flags chromium's own connections (updates, sync,
  // QUIC probes) are refused on a machine that reaches only the registries.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1100, height: 900 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(url);
    const section = `section[data-database="${database}"]`;
    const marks = await page.$$eval(`${section} svg.timeline a.mark`, (links) =>
      links.map((a) => ({
        txid: a.getAttribute("data-txid"),
        kind: a.classList.contains("snapshot") ? "snapshot" : "incremental",
        title: a.querySelector("title").textContent,
      })),
    );
    const heading = await page.locator("h1").textContent();
    fs.mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, "dashboard.png"), fullPage: true });

    // Choose a point on the timeline (a link: the page comes back with it selected), then
    // press the button beside it.
    const chosen = marks[Math.floor((marks.length - 1) / 2)].txid;
    await Promise.all([
      page.waitForURL((u) => u.searchParams.get("txid") === chosen),
      page.locator(`${section} a.mark[data-txid="${chosen}"]`).dispatchEvent("click"),
    ]);
    const selectedMarker = await page.locator(`${section} svg.timeline path.selected`).count();
    await Promise.all([
      page.waitForURL((u) => u.pathname.endsWith("/restore")),
      page.locator(`${section} tr.selected[data-txid="${chosen}"] button`).click(),
    ]);
    if ((await page.locator("#copy-path").count()) === 0) {
      throw new Error(`the restore answered without a copy: ${await page.locator("body").innerText()}`);
    }
    const copy = {
      path: await page.locator("#copy-path").textContent(),
      integrity: await page.locator("#integrity").textContent(),
      rows: Object.fromEntries(
        await page.$$eval("#row-counts td[data-table]", (cells) =>
          cells.map((td) => [td.getAttribute("data-table"), Number(td.textContent)]),
        ),
      ),
    };
    await page.screenshot({ path: path.join(outDir, "copy.png"), fullPage: true });
    console.log(JSON.stringify({ heading, marks, chosen, selectedMarker, copy }));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
