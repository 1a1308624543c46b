// The game's constants as the server renders them into the room page (game/views.py `constants`,
// written with Django's json_script: a JSON <script> the CSP lets through since it never runs).
// One source of truth: game/protocol.py and game/rules.py; nothing here repeats their numbers.
//
//   canvasWidth, canvasHeight   the logical drawing surface
//   brushSizes, palette         the widths and colours a stroke may have
//   maxPointsPerBatch, maxPointsPerStroke, maxFrameBytes, maxText   what one frame may carry
//   settingRanges               {rounds: [lo, hi], draw_seconds: [...], ...}
//   aiModes, aiMask             "shown" | "hidden" | "off"; the character masked labels are made of

function read(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}: it must come from the room template`);
  return JSON.parse(el.textContent);
}

export const GAME = Object.freeze(read('game-constants'));
