// The console's only script: copy buttons. Every page works without it; it only saves
// selecting a secret or URL by hand.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  const live = document.getElementById("live");
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    copied = document.execCommand && document.execCommand("copy");
  }
  const state = button.querySelector(".state") || button;
  state.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
  if (live) live.textContent = copied ? "Copied to the clipboard" : "Text selected; press Ctrl+C to copy";
});
