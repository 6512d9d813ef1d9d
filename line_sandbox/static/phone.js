// The phone page: act as a LINE user. Polls the chat as JSON and acts through
// the sandbox's control API. Plain fetch, no libraries, nothing from the internet.
(function () {
  "use strict";
  const POLL_MS = 1500;
  const phone = document.getElementById("phone");
  const $ = (id) => document.getElementById(id);
  let channelId = phone.dataset.channelId;
  let userId = phone.dataset.userId;
  let stickers = [];
  let sendable = [];
  let lastJson = "";
  let richmenuOpen = true;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  async function call(method, url, body) {
    const options = { method, headers: {} };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function banner(text) {
    $("banner").hidden = !text;
    $("banner").textContent = text || "";
  }

  // -- choosing who and where -------------------------------------------------
  function fillSelect(select, items, value, key, label, placeholder) {
    select.replaceChildren(el("option", null, placeholder));
    select.firstChild.value = "";
    for (const item of items) {
      const option = el("option", null, item[label]);
      option.value = item[key];
      select.appendChild(option);
    }
    select.value = value;
  }

  async function loadDirectory() {
    const directory = await call("GET", "/phone/api/directory");
    stickers = directory.stickers;
    sendable = directory.sendable || [];
    if (!userId && directory.users.length) userId = directory.users[0].user_id;
    if (!channelId && directory.channels.length) channelId = directory.channels[0].channel_id;
    fillSelect($("user-select"), directory.users, userId, "user_id", "display_name", "（ユーザーを選択）");
    fillSelect($("channel-select"), directory.channels, channelId, "channel_id", "bot_name", "（お店を選択）");
  }

  function choose() {
    userId = $("user-select").value;
    channelId = $("channel-select").value;
    if (userId && channelId) history.replaceState(null, "", `/phone/${channelId}/${userId}`);
    lastJson = "";
    refresh();
  }

  // -- acting --------------------------------------------------------------------
  async function sendEvent(spec) {
    if (!channelId || !userId) return banner("ユーザーとお店を選んでください。");
    try {
      await call("POST", `/_sandbox/channels/${channelId}/users/${userId}/events`, spec);
      banner("");
    } catch (error) {
      banner(`送信できませんでした: ${error.message}`);
    }
    refresh();
  }

  const sendText = (text) => sendEvent({ type: "message", message: { type: "text", text } });

  function runAction(action) {
    if (!action) return;
    switch (action.type) {
      case "message":
        return sendText(action.text || action.label || "");
      case "postback":
        return sendEvent({ type: "postback", data: action.data || "", display_text: action.displayText || action.text });
      case "uri":
        return window.open(action.uri, "_blank", "noopener");
      case "datetimepicker": {
        const defaults = { date: "2030-01-01", time: "10:00", datetime: "2030-01-01T10:00" };
        const value = window.prompt(`${action.mode} を入力`, action.initial || defaults[action.mode]);
        if (value) return sendEvent({ type: "postback", data: action.data || "", params: { [action.mode]: value } });
        return;
      }
      case "richmenuswitch":
        return call("POST", `/phone/api/richmenu-switch/${channelId}/${userId}`,
          { richMenuAliasId: action.richMenuAliasId, data: action.data || "" }).then(refresh);
      case "location":
        $("location-form").hidden = false;
        return;
      case "camera":
      case "cameraRoll":
        return $("image-input").click();
      case "clipboard":
        return navigator.clipboard && navigator.clipboard.writeText(action.clipboardText || "");
      default:
        banner(`このアクションには未対応です: ${action.type}`);
    }
  }

  function actionButton(action, className) {
    const label = action.label || action.displayText || action.text || action.data || action.type;
    if (action.type === "uri") {
      const link = el("a", className, label);
      link.href = action.uri;
      link.target = "_blank";
      link.rel = "noopener";
      return link;
    }
    const button = el("button", className, label);
    button.type = "button";
    button.addEventListener("click", () => runAction(action));
    return button;
  }

  // -- rendering what the shop sent -------------------------------------------------
  function collectFlex(node, texts, buttons, images) {
    if (!node || typeof node !== "object") return;
    if (Array.isArray(node)) return node.forEach((child) => collectFlex(child, texts, buttons, images));
    if (node.type === "text") {
      texts.push(node.text || (node.contents || []).map((span) => span.text || "").join(""));
    } else if (node.type === "button" && node.action) {
      buttons.push(node.action);
    } else if (node.type === "image" && node.url) {
      images.push(node.url);
    }
    for (const key of ["header", "hero", "body", "footer", "contents"]) {
      if (node[key]) collectFlex(node[key], texts, buttons, images);
    }
  }

  function card(alt, texts, actions, image) {
    const box = el("div", "card");
    if (alt) box.appendChild(el("div", "card__alt", alt));
    if (image) {
      const img = el("img", "card__hero");
      img.src = image;
      img.alt = "";
      box.appendChild(img);
    }
    const body = el("div", "card__texts");
    texts.filter(Boolean).forEach((text) => body.appendChild(el("p", null, text)));
    box.appendChild(body);
    if (actions.length) {
      const row = el("div", "card__buttons");
      actions.forEach((action) => row.appendChild(actionButton(action, "card__button")));
      box.appendChild(row);
    }
    return box;
  }

  // A bot's image is fetched from its URL now, as LINE's app does (through /phone/api/media,
  // which checks status, type and size); a URL that does not answer shows why, in red.
  const mediaCache = new Map();
  function botImage(message) {
    const bubble = el("div", "bubble bubble--image");
    const url = message.previewImageUrl;
    bubble.dataset.previewUrl = url || "";
    if (!mediaCache.has(url)) {
      mediaCache.set(url, fetch(`/phone/api/media?kind=previewImageUrl&url=${encodeURIComponent(url)}`)
        .then(async (response) => {
          if (response.ok) return { src: URL.createObjectURL(await response.blob()) };
          const body = await response.json().catch(() => ({}));
          return { error: body.error || `HTTP ${response.status}` };
        })
        .catch((error) => ({ error: String(error) })));
    }
    mediaCache.get(url).then((result) => {
      if (result.src) {
        const img = el("img");
        img.src = result.src;
        img.alt = "画像";
        bubble.appendChild(img);
      } else {
        bubble.classList.add("bubble--broken");
        bubble.appendChild(el("span", "media-error", `画像を取得できません: ${result.error}`));
      }
    });
    return bubble;
  }

  function stickerNode(packageId, stickerId) {
    const known = stickers.find((s) => s.packageId === String(packageId) && s.stickerId === String(stickerId))
      || sendable.find((s) => s.packageId === String(packageId) && s.stickerId === String(stickerId));
    const node = el("span", "sticker");
    node.appendChild(el("span", "sticker__emoji", known && known.emoji ? known.emoji : "🙂"));
    node.appendChild(el("span", "sticker__label", known ? `${known.label} (${packageId}/${stickerId})` : `スタンプ ${packageId}/${stickerId}`));
    return node;
  }

  function botMessage(message) {
    switch (message.type) {
      case "text":
        return el("div", "bubble", message.text);
      case "textV2":
        return el("div", "bubble", message.text.replace(/\{(\w+)\}/g, (m, key) =>
          (message.substitution && message.substitution[key] && key) ? `@${key}` : m));
      case "sticker": {
        const bubble = el("div", "bubble bubble--sticker");
        bubble.appendChild(stickerNode(message.packageId, message.stickerId));
        return bubble;
      }
      case "image":
        return botImage(message);
      case "video": case "audio":
        return el("div", "bubble", `${message.type === "video" ? "🎬 動画" : "🎵 音声"}: ${message.originalContentUrl}`);
      case "location":
        return el("div", "bubble", `📍 ${message.title}\n${message.address}`);
      case "flex": {
        const bubbles = message.contents && message.contents.type === "carousel" ? message.contents.contents : [message.contents];
        const wrap = el("div", bubbles.length > 1 ? "carousel" : null);
        bubbles.forEach((bubble, i) => {
          const texts = [], buttons = [], images = [];
          collectFlex(bubble, texts, buttons, images);
          wrap.appendChild(card(i === 0 ? message.altText : "", texts, buttons, images[0]));
        });
        return wrap;
      }
      case "template": {
        const t = message.template || {};
        const columns = t.columns || [t];
        const wrap = el("div", columns.length > 1 ? "carousel" : null);
        columns.forEach((column, i) => wrap.appendChild(card(i === 0 ? message.altText : "",
          [column.title, column.text], column.actions || (column.action ? [column.action] : []),
          column.thumbnailImageUrl || column.imageUrl)));
        return wrap;
      }
      default:
        return el("div", "bubble", `[${message.type}] ${message.altText || ""}`);
    }
  }

  function userMessage(entry) {
    const event = entry.event;
    const m = event.message || {};
    if (event.type === "follow") return el("div", "bubble", "友だち追加しました");
    if (event.type === "unfollow") return el("div", "bubble", "ブロックしました");
    if (event.type === "unsend") return el("div", "bubble", "メッセージの送信を取り消しました");
    if (event.type === "postback") {
      return el("div", "bubble", entry.display_text || `（ポストバック: ${event.postback.data}）`);
    }
    if (m.type === "sticker") {
      const bubble = el("div", "bubble bubble--sticker");
      bubble.appendChild(stickerNode(m.packageId, m.stickerId));
      return bubble;
    }
    if ((m.type === "image") && entry.content_url) {
      const bubble = el("div", "bubble bubble--image");
      const img = el("img");
      img.src = entry.content_url;
      img.alt = "送信した画像";
      bubble.appendChild(img);
      return bubble;
    }
    if (m.type === "location") return el("div", "bubble", `📍 ${m.title || ""}\n${m.address || ""}`);
    if (m.type === "text") return el("div", "bubble", event.type === "messageEdited" ? `${m.text}（編集済み）` : m.text);
    return el("div", "bubble", `[${m.type || event.type}]`);
  }

  function deliveryNote(entry) {
    const d = entry.delivery;
    if (!d) return el("div", "meta", "webhook 送信中…");
    const ok = d.status_code && d.status_code < 300;
    const text = d.status_code ? `webhook ${d.status_code} · ${d.elapsed_ms}ms` : `webhook ✗ ${d.error || "失敗"}`;
    return el("div", ok ? "meta" : "meta meta--bad", text + (entry.read ? " · 既読" : ""));
  }

  function render(view) {
    $("bot-name").textContent = view.channel.bot_name;
    const friend = view.friendship === "friend";
    $("follow-button").hidden = friend;
    $("block-button").hidden = !friend;
    $("composer").setAttribute("aria-disabled", view.friendship === "blocked" ? "true" : "false");
    const chat = $("chat");
    chat.replaceChildren();
    if (!view.entries.length) chat.appendChild(el("p", "chat__empty", "まだメッセージはありません。友だち追加してみましょう。"));
    let quickReply = null;
    for (const entry of view.entries) {
      if (entry.from === "bot") {
        for (const message of entry.messages) {
          const row = el("div", "row row--bot");
          row.appendChild(el("div", "row__name", view.channel.bot_name));
          row.appendChild(botMessage(message));
          row.appendChild(el("div", "meta", entry.via === "reply" ? "応答" : "プッシュ"));
          chat.appendChild(row);
          quickReply = message.quickReply || null;
        }
      } else {
        const system = ["follow", "unfollow", "unsend"].includes(entry.event.type);
        const row = el("div", system ? "row row--system" : "row row--user");
        const bubble = userMessage(entry);
        if (entry.unsent) bubble.classList.add("bubble--unsent");
        row.appendChild(bubble);
        row.appendChild(deliveryNote(entry));
        chat.appendChild(row);
        quickReply = null;
      }
    }
    renderQuickReplies(quickReply);
    renderRichMenu(view.richmenu);
    chat.scrollTop = chat.scrollHeight;
  }

  function renderQuickReplies(quickReply) {
    const box = $("quick-replies");
    box.replaceChildren();
    const items = (quickReply && quickReply.items) || [];
    items.forEach((item) => box.appendChild(actionButton(item.action || {}, null)));
    box.hidden = !items.length;
  }

  function renderRichMenu(menu) {
    const section = $("richmenu");
    section.hidden = !menu;
    if (!menu) return;
    const grid = $("richmenu-grid");
    const width = (menu.size && menu.size.width) || 2500;
    const height = (menu.size && menu.size.height) || 1686;
    grid.style.paddingTop = `${(height / width) * 100}%`;
    grid.style.backgroundImage = menu.image_url ? `url("${menu.image_url}")` : "";
    grid.classList.toggle("richmenu__grid--image", Boolean(menu.image_url));
    grid.hidden = !richmenuOpen;
    grid.replaceChildren();
    for (const area of menu.areas) {
      const b = area.bounds;
      const button = el("button", "richmenu__area", area.label);
      button.type = "button";
      button.title = area.label;
      Object.assign(button.style, {
        left: `${(b.x / width) * 100}%`, top: `${(b.y / height) * 100}%`,
        width: `${(b.width / width) * 100}%`, height: `${(b.height / height) * 100}%`,
      });
      button.addEventListener("click", () => runAction(area.action));
      grid.appendChild(button);
    }
    $("richmenu-bar").textContent = `${menu.chatBarText || "メニュー"} ${richmenuOpen ? "▾" : "▴"}`;
  }

  async function refresh() {
    if (!channelId || !userId) return;
    try {
      const response = await fetch(`/phone/api/chat/${channelId}/${userId}`);
      const text = await response.text();
      if (!response.ok) return banner("このユーザーまたはお店は見つかりません。");
      if (text === lastJson) return;
      lastJson = text;
      render(JSON.parse(text));
    } catch (error) {
      banner("サンドボックスに接続できません。");
    }
  }

  // -- wiring ------------------------------------------------------------------------
  $("user-select").addEventListener("change", choose);
  $("channel-select").addEventListener("change", choose);
  $("new-user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-user-name").value.trim();
    if (!name) return;
    const user = await call("POST", "/_sandbox/users", { display_name: name });
    $("new-user-name").value = "";
    userId = user.user_id;
    await loadDirectory();
    choose();
  });
  $("follow-button").addEventListener("click", () => sendEvent({ type: "follow" }));
  $("block-button").addEventListener("click", () => sendEvent({ type: "unfollow" }));
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message-input").value;
    if (!text.trim()) return;
    $("message-input").value = "";
    sendText(text);
  });
  $("message-input").addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter while converting kana (IME) does neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("sticker-toggle").addEventListener("click", () => { $("sticker-palette").hidden = !$("sticker-palette").hidden; });
  document.querySelectorAll(".palette__sticker").forEach((button) => button.addEventListener("click", () => {
    $("sticker-palette").hidden = true;
    sendEvent({ type: "message", message: { type: "sticker", packageId: button.dataset.packageId, stickerId: button.dataset.stickerId } });
  }));
  $("image-input").addEventListener("change", () => {
    const file = $("image-input").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("message_type", "image");
    form.append("file", file);
    $("image-input").value = "";
    sendEvent(form);
  });
  $("location-toggle").addEventListener("click", () => { $("location-form").hidden = !$("location-form").hidden; });
  $("location-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const f = event.target.elements;
    $("location-form").hidden = true;
    sendEvent({ type: "message", message: { type: "location", title: f.title.value, address: f.address.value,
      latitude: Number(f.latitude.value), longitude: Number(f.longitude.value) } });
  });
  $("richmenu-bar").addEventListener("click", () => { richmenuOpen = !richmenuOpen; lastJson = ""; refresh(); });

  loadDirectory().then(choose).catch(() => banner("サンドボックスに接続できません。"));
  setInterval(refresh, POLL_MS);
})();
