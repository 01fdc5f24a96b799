/* Deployment settings of the liveness mini-program. Edit before uploading; see docs/liveness-miniprogram.md.
 *
 * Never put a Vigilo business API key here for the v1 flow: anyone can unpack a mini-program package. The
 * v1 flow needs only the session id and nonce that your backend passes to the page.
 */
module.exports = {
  // Vigilo's address: HTTPS, with an ICP-filed domain that is in the mini-program's request 合法域名
  // (and uploadFile 合法域名 when transport is 'multipart'). No trailing slash.
  apiBase: 'https://vigilo.example.cn',

  // 'v1': sessions created by your backend (recommended). 'seed': the seed's /api/task/detect|status|reset.
  // A page query `mode=seed` / `mode=v1` overrides this.
  flow: 'v1',

  // Optional (v1): your backend's HTTPS endpoint that creates a Vigilo session for the signed-in user.
  // The page POSTs {"code": <wx.login code>} and expects {"session_id", "nonce"}. Used when the page is
  // opened without a session_id, and for "Try again". Leave empty when the business page always passes a
  // session (the retry then goes back to it with a `retry` event).
  sessionEndpoint: '',

  // Seed flow only: the bearer token sent to /api/task/* when the page gets no `token` query parameter.
  // Prefer per-user tokens from your backend (liveness.seed_compat.mode: token); an app key here is readable
  // by anyone who has the package, so use it only in closed deployments during a migration.
  appKey: '',

  // Frame source: 'takePhoto' (default; camera JPEG on a timer) or 'cameraFrame' (onCameraFrame, throttled,
  // encoded as PNG in JavaScript: higher rate, much larger uploads).
  frameSource: 'takePhoto',

  // 'json': base64 in POST …/frames (request domain only). 'multipart': wx.uploadFile (takePhoto only).
  transport: 'json',

  defaultLang: 'zh-CN', // 'zh-CN' or 'en'; the session's locale wins unless the page gets `lang`
  maxFrameHeight: 640, // takePhoto frames are scaled down to this height (wx.compressImage, base 2.26+)
  jpegQuality: 80,
  seedFps: 2, // frames per second for the seed flow (it has no upload rules)
  maxErrors: 6, // consecutive failed uploads before the network error screen
  requestTimeoutMs: 15000
};
