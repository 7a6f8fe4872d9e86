/* Casebook QA — the chat page. Plain JS, no dependencies.
 *
 * Every piece of text that comes from a document or from the user is put into the page with
 * textContent / text nodes, never with innerHTML.
 */
(() => {
  'use strict';

  const STORAGE_KEY = 'casebook-qa:history:v1';
  const MAX_HISTORY = 50;
  const REQUEST_TIMEOUT_MS = 30000;
  const STARTERS = [
    'How old was the patient?',
    'What were the presenting symptoms?',
    'What did the imaging show?',
    'How was the patient treated?',
    'What was the final diagnosis?',
    'What was the outcome?',
  ];
  const MAX_TURNS = 10; // earlier turns sent with a question (the API's limit)
  const VERDICT_TEXT = { yes: 'Yes', no: 'No', 'not stated': 'Not stated' };
  const SUMMARY_LABELS = [
    ['patient', 'Patient'], ['presenting_complaint', 'Presenting complaint'], ['key_findings', 'Key findings'],
    ['investigations', 'Investigations'], ['diagnosis', 'Diagnosis'], ['treatment', 'Treatment'], ['outcome', 'Outcome'],
  ];
  const ENTITY_LABELS = {
    FINDING: 'finding', DISEASE: 'disease', DRUG: 'drug', TEST: 'test',
    ANATOMY: 'anatomy', PROCEDURE: 'procedure',
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    conversation: $('conversation'), empty: $('empty'), starters: $('starters'), status: $('status'),
    form: $('composer'), question: $('question'), send: $('send'), clear: $('clear'), exportBtn: $('export'),
    caseCard: $('case-card'),
    docFilter: $('doc-filter'), document: $('document'), section: $('section'),
    corpusLine: $('corpus-line'), main: $('main'),
    source: $('source'), sourceTitle: $('source-title'), sourceWhere: $('source-where'), sourceBody: $('source-body'), sourceClose: $('source-close'),
  };

  let history = loadHistory();
  let pending = false;
  let documents = [];
  const docCache = new Map(); // id -> Promise<document JSON>
  const summaryCache = new Map(); // id -> Promise<summary JSON>
  let sourceOpener = null;

  /* ---------- small DOM helpers ---------- */

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = value;
        else if (key === 'dataset') Object.assign(node.dataset, value);
        else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function announce(message) {
    ui.status.textContent = '';
    // A fresh text node is announced even when the same message repeats.
    window.setTimeout(() => { ui.status.textContent = message; }, 30);
  }

  /* ---------- history (sessionStorage) ---------- */

  function loadHistory() {
    try {
      const raw = window.sessionStorage.getItem(STORAGE_KEY);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter((e) => e && typeof e.question === 'string') : [];
    } catch (err) {
      return [];
    }
  }

  function saveHistory() {
    history = history.slice(-MAX_HISTORY);
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(history));
    } catch (err) {
      /* storage full or disabled: the conversation still works, it just won't survive a reload */
    }
  }

  /* ---------- formatting ---------- */

  function percent(score) {
    const s = Math.max(0, Math.min(1, Number(score) || 0));
    let pct = Math.round(s * 100);
    if (pct === 100 && s < 1) pct = 99; // never round a near-certain score up to "100%"
    if (pct === 0 && s > 0) pct = 1;
    return pct;
  }

  function confidenceLevel(pct) {
    if (pct >= 75) return 'high';
    if (pct >= 50) return 'medium';
    return 'low';
  }

  /** Where the answer sits in its passage: [start, end) into passage, or null. */
  function answerRange(a) {
    const passage = typeof a.passage === 'string' ? a.passage : '';
    const s = a.start - a.passage_start;
    const e = a.end - a.passage_start;
    const valid = Number.isInteger(s) && Number.isInteger(e) && s >= 0 && e <= passage.length && s < e;
    if (valid && passage.slice(s, e) === a.text) return [s, e];
    const i = a.text ? passage.indexOf(a.text) : -1;
    if (i >= 0) return [i, i + a.text.length];
    return valid ? [s, e] : null;
  }

  function citation(a) {
    const where = [a.document_title || a.document_id, a.section].filter(Boolean).join(', ');
    return `"${a.text}" — ${where}`;
  }

  /* ---------- entity chips ---------- */

  function entityChip(ent) {
    const label = String(ent.label || 'OTHER').toUpperCase();
    const absent = ent.negated === true || ent.assertion === 'absent';
    const kind = ENTITY_LABELS[label] || 'other';
    const chip = el('li', { class: `chip entity entity-${kind}${absent ? ' entity-negated' : ''}`,
      title: [label.toLowerCase(), ent.concept, absent ? 'absent (negated)' : ent.assertion].filter(Boolean).join(' · ') });
    chip.append(el('span', { class: 'entity-label', text: label.toLowerCase() }));
    chip.append(el(absent ? 's' : 'span', { class: 'entity-text', text: ent.text }));
    if (absent) chip.append(el('span', { class: 'entity-flag', text: 'absent' }));
    else if (ent.assertion && ent.assertion !== 'present') chip.append(el('span', { class: 'entity-flag', text: ent.assertion }));
    return chip;
  }

  function entityList(entities, label) {
    if (!Array.isArray(entities) || entities.length === 0) return null;
    const seen = new Set();
    const unique = entities.filter((e) => {
      const key = `${e.label}|${String(e.text).toLowerCase()}|${e.negated}|${e.assertion}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return el('ul', { class: 'chips entities', 'aria-label': label }, unique.map(entityChip));
  }

  /* ---------- message bubbles ---------- */

  function questionMessage(entry) {
    const bubble = el('div', { class: 'bubble bubble-question' },
      el('p', { class: 'question-text', text: entry.question }));
    const scope = [];
    if (entry.document_id) {
      const d = documents.find((x) => x.id === entry.document_id);
      scope.push(d ? d.title : entry.document_id);
    }
    if (entry.section) scope.push(entry.section);
    if (scope.length) bubble.append(el('p', { class: 'question-scope', text: `in ${scope.join(' · ')}` }));
    const msg = el('div', { class: 'msg msg-question' }, el('span', { class: 'visually-hidden', text: 'You asked:' }), bubble);
    return msg;
  }

  function addQuestionEntities(msg, response) {
    const followup = response && response.followup;
    if (followup && followup.is_followup && typeof response.resolved_question === 'string') {
      const bubble = msg.querySelector('.bubble-question');
      if (bubble) bubble.append(el('p', { class: 'question-understood', text: `understood as “${response.resolved_question}”` }));
    }
    const list = entityList(response && response.question_entities, 'Recognised in your question');
    if (list) msg.append(list);
  }

  function verdictBadge(verdict) {
    if (!Object.prototype.hasOwnProperty.call(VERDICT_TEXT, verdict)) return null;
    const kind = verdict.replace(' ', '-');
    return el('span', { class: `badge verdict-badge verdict-${kind}`, title: 'What the report says to this yes/no question' },
      VERDICT_TEXT[verdict]);
  }

  function confidenceBar(score) {
    const pct = percent(score);
    const level = confidenceLevel(pct);
    const label = `Confidence ${pct}%`;
    const bar = el('div', { class: `confidence confidence-${level}`, role: 'meter', 'aria-label': label,
      'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct, 'aria-valuetext': `${pct}%`,
      title: 'How confident the service is that this sentence answers the question' });
    const track = el('span', { class: 'confidence-track', 'aria-hidden': 'true' });
    const fill = el('span', { class: 'confidence-fill' });
    fill.style.width = `${pct}%`;
    track.append(fill);
    bar.append(el('span', { class: 'confidence-name', 'aria-hidden': 'true', text: 'Confidence' }), track,
      el('span', { class: 'confidence-value', 'aria-hidden': 'true', text: `${pct}%` }));
    return bar;
  }

  function passageBlock(a) {
    const passage = typeof a.passage === 'string' ? a.passage : '';
    const block = el('blockquote', { class: 'passage' });
    const range = answerRange(a);
    if (!range) {
      block.textContent = passage;
      return block;
    }
    const [s, e] = range;
    if (s > 0) block.append(document.createTextNode(passage.slice(0, s)));
    block.append(el('mark', { class: 'answer-mark', text: passage.slice(s, e) }));
    if (e < passage.length) block.append(document.createTextNode(passage.slice(e)));
    return block;
  }

  function copyButton(a) {
    const btn = el('button', { type: 'button', class: 'btn btn-small btn-ghost copy-btn', 'aria-label': 'Copy the answer with its source' }, 'Copy');
    btn.addEventListener('click', async () => {
      const ok = await copyText(citation(a));
      btn.textContent = ok ? 'Copied' : 'Copy failed';
      announce(ok ? 'Answer copied to the clipboard' : 'Could not copy the answer');
      window.setTimeout(() => { btn.textContent = 'Copy'; }, 1800);
    });
    return btn;
  }

  function answerCard(a, rank, verdict) {
    const primary = rank === 0;
    const card = el('article', { class: `answer-card${primary ? ' answer-primary' : ''}`, dataset: { rank: String(rank) } });
    const head = el('div', { class: 'answer-head' },
      primary && verdict ? verdictBadge(verdict) : null,
      el('span', { class: 'badge section-badge', text: a.section || 'Unknown section' }),
      confidenceBar(a.score));
    card.append(head);
    const span = a.span && typeof a.span.text === 'string' && a.span.text ? a.span : null;
    if (span) card.append(el('p', { class: 'answer-span' }, el('strong', { text: span.text })));
    card.append(el('p', { class: `answer-text${span ? ' answer-text-under' : ''}`, text: a.text }));
    if (a.reason && typeof a.reason.text === 'string' && a.reason.text) {
      card.append(el('p', { class: 'answer-reason' }, el('span', { class: 'reason-label', text: 'Why this answer: ' }), a.reason.text));
    }
    const details = el('div', { class: 'passage-wrap' },
      el('p', { class: 'passage-label', text: 'In context' }), passageBlock(a));
    card.append(details);
    const ents = entityList(a.entities, 'Clinical terms in this answer');
    if (ents) card.append(ents);
    const show = el('button', { type: 'button', class: 'btn btn-small btn-secondary show-source' }, 'Show in report');
    show.addEventListener('click', () => openSource(a, show));
    const source = el('span', { class: 'answer-source', text: a.document_title || a.document_id || '' });
    card.append(el('div', { class: 'answer-actions' }, show, copyButton(a), source));
    return card;
  }

  function replyMessage(kind, ...children) {
    const label = { answer: 'Answer:', noanswer: 'No answer:', error: 'Error:' }[kind] || '';
    return el('div', { class: `msg msg-reply msg-${kind}` }, el('span', { class: 'visually-hidden', text: label }), ...children);
  }

  function answerMessage(response, entry) {
    const answers = Array.isArray(response.answers) ? response.answers : [];
    if (answers.length === 0) {
      return replyMessage('noanswer', el('div', { class: 'bubble bubble-noanswer' },
        el('p', { class: 'reply-title' },
          el('span', { class: 'noanswer-icon', 'aria-hidden': 'true', text: '∅' }), 'Not in the report',
          response.verdict ? verdictBadge(response.verdict) : null),
        el('p', { class: 'reply-message', text: response.message || 'The report does not seem to answer this question.' }),
        el('p', { class: 'reply-hint', text: entry && (entry.section || entry.document_id)
          ? 'Try again with the filters set to Any, or rephrase with terms the report would use.'
          : 'Try rephrasing with terms the report would use.' })));
    }
    const bubble = el('div', { class: 'bubble bubble-answer' }, answerCard(answers[0], 0, response.verdict));
    if (answers.length > 1) {
      const more = el('details', { class: 'more-evidence' },
        el('summary', { text: `More evidence (${answers.length - 1})` }),
        el('div', { class: 'more-list' }, answers.slice(1).map((a, i) => answerCard(a, i + 1))));
      bubble.append(more);
    }
    return replyMessage('answer', bubble);
  }

  function errorMessage(error, retry) {
    const bubble = el('div', { class: 'bubble bubble-error', role: 'alert' },
      el('p', { class: 'reply-title' }, el('span', { class: 'error-icon', 'aria-hidden': 'true', text: '!' }), error.title),
      el('p', { class: 'reply-message error-message', text: error.message }));
    if (error.status) bubble.append(el('p', { class: 'reply-hint', text: `HTTP ${error.status}${error.code ? ` · ${error.code}` : ''}` }));
    if (retry && error.retryable) {
      const btn = el('button', { type: 'button', class: 'btn btn-small btn-secondary' }, 'Try again');
      btn.addEventListener('click', retry);
      bubble.append(el('div', { class: 'answer-actions' }, btn));
    }
    return replyMessage('error', bubble);
  }

  function loadingMessage() {
    return replyMessage('loading', el('div', { class: 'bubble bubble-loading', 'aria-hidden': 'true' },
      el('span', { class: 'dots' }, el('span'), el('span'), el('span')),
      el('span', { text: 'Searching the report…' })));
  }

  /* ---------- conversation ---------- */

  function updateChrome() {
    const hasMessages = ui.conversation.childElementCount > 0;
    ui.empty.hidden = hasMessages;
    ui.clear.hidden = history.length === 0;
    ui.exportBtn.hidden = !history.some((e) => e.response);
  }

  function renderEntry(entry) {
    const q = questionMessage(entry);
    ui.conversation.append(q);
    if (entry.response) {
      addQuestionEntities(q, entry.response);
      ui.conversation.append(answerMessage(entry.response, entry));
    } else if (entry.error) {
      ui.conversation.append(errorMessage(entry.error, null));
    }
    return q;
  }

  function renderAll() {
    ui.conversation.replaceChildren();
    history.forEach(renderEntry);
    updateChrome();
    ui.main.scrollTop = ui.main.scrollHeight;
  }

  function describeHttpError(status, body) {
    const serverMessage = body && body.error && typeof body.error.message === 'string' ? body.error.message : '';
    const code = body && body.error && typeof body.error.code === 'string' ? body.error.code : '';
    const titles = {
      400: 'The question could not be used',
      404: 'Not found',
      405: 'Request not allowed',
      413: 'The question is too large',
      415: 'The request was not understood',
      429: 'Too many questions at once',
    };
    const title = titles[status] || (status >= 500 ? 'The server had a problem' : 'The request failed');
    const fallback = status >= 500
      ? 'The server failed to answer. Please try again in a moment.'
      : `The server refused the request (HTTP ${status}).`;
    let message = serverMessage ? serverMessage.charAt(0).toUpperCase() + serverMessage.slice(1) : fallback;
    if (status === 400 && code === 'question_too_long') message += '. Please shorten it.';
    return { title, message, status, code, retryable: status >= 500 || status === 429 };
  }

  async function requestAnswer(payload) {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let res;
    try {
      res = await fetch('/api/ask', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(payload),
        signal: controller.signal,
      });
    } catch (err) {
      const timedOut = err && err.name === 'AbortError';
      return { error: {
        title: timedOut ? 'The server took too long' : 'Could not reach the server',
        message: timedOut
          ? 'No answer arrived within 30 seconds. Please try again.'
          : 'The service did not respond. Check that it is running and that you are online, then try again.',
        retryable: true,
      } };
    } finally {
      window.clearTimeout(timer);
    }
    let body = null;
    try {
      body = await res.json();
    } catch (err) {
      body = null;
    }
    if (!res.ok) return { error: describeHttpError(res.status, body) };
    if (!body || !Array.isArray(body.answers)) {
      return { error: { title: 'Unexpected reply', message: 'The server sent a reply this page does not understand.', status: res.status, retryable: true } };
    }
    return { response: body };
  }

  async function ask(question, scope) {
    question = String(question || '').trim();
    if (!question || pending) return;
    pending = true;
    ui.send.disabled = true;
    ui.form.setAttribute('aria-busy', 'true');
    const entry = { question, document_id: scope.document_id || '', section: scope.section || '' };
    const qMsg = questionMessage(entry);
    ui.conversation.append(qMsg);
    const loading = loadingMessage();
    ui.conversation.append(loading);
    updateChrome();
    announce('Searching the report…');
    ui.main.scrollTop = ui.main.scrollHeight;

    const payload = { question, history: conversationTurns() };
    if (entry.document_id) payload.document_id = entry.document_id;
    if (entry.section) payload.section = entry.section;
    const result = await requestAnswer(payload);

    loading.remove();
    let reply;
    if (result.response) {
      entry.response = result.response;
      addQuestionEntities(qMsg, result.response);
      reply = answerMessage(result.response, entry);
      const n = result.response.answers.length;
      announce(n ? `Answer found in ${result.response.answers[0].section || 'the report'}.` : 'Not in the report.');
    } else {
      entry.error = result.error;
      reply = errorMessage(result.error, () => {
        qMsg.remove();
        reply.remove();
        const i = history.indexOf(entry);
        if (i >= 0) history.splice(i, 1);
        saveHistory();
        ask(question, scope);
      });
      announce(`${result.error.title}. ${result.error.message}`);
    }
    ui.conversation.append(reply);
    history.push(entry);
    saveHistory();
    pending = false;
    ui.send.disabled = false;
    ui.form.removeAttribute('aria-busy');
    updateChrome();
    // Show the new question and as much of its answer as fits.
    ui.main.scrollTop = Math.max(0, qMsg.offsetTop - ui.main.offsetTop - 12);
  }

  /** The earlier turns the server resolves a follow-up against: question and top answer's place. */
  function conversationTurns() {
    return history.filter((e) => e.response).slice(-MAX_TURNS).map((e) => {
      const top = Array.isArray(e.response.answers) ? e.response.answers[0] : null;
      const ok = top && typeof top.document_id === 'string' && Number.isInteger(top.start) && Number.isInteger(top.end);
      return { question: e.question, answer: ok ? { document_id: top.document_id, start: top.start, end: top.end } : null };
    });
  }

  /* ---------- export (Markdown, built here: no server state) ---------- */

  function quoteMd(text) {
    return String(text).split(/\r?\n/).map((line) => `> ${line}`).join('\n');
  }

  function conversationMarkdown() {
    const lines = ['# Casebook QA conversation', '', `Exported ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC`, ''];
    history.forEach((e, i) => {
      lines.push(`## ${i + 1}. ${e.question}`, '');
      const r = e.response;
      if (!r) {
        lines.push(`*No answer: ${e.error ? e.error.message : 'the request failed'}*`, '');
        return;
      }
      if (r.followup && r.followup.is_followup) lines.push(`*Understood as: ${r.resolved_question}*`, '');
      const top = Array.isArray(r.answers) ? r.answers[0] : null;
      if (r.verdict) lines.push(`**Verdict:** ${VERDICT_TEXT[r.verdict] || r.verdict}`, '');
      if (!top) {
        lines.push(`*Not in the report:* ${r.message || 'the report does not seem to answer this question.'}`, '');
        return;
      }
      if (top.span && top.span.text) lines.push(`**Answer:** ${top.span.text}`, '');
      lines.push(quoteMd(top.text), '');
      lines.push(`— *${top.document_title || top.document_id}*, ${top.section || 'unknown section'} (characters ${top.start}–${top.end})`, '');
      if (top.reason && top.reason.text) lines.push(`Why: ${top.reason.text}`, '');
    });
    return lines.join('\n');
  }

  function exportConversation() {
    const blob = new Blob([conversationMarkdown()], { type: 'text/markdown;charset=utf-8' });
    if (ui.exportBtn.dataset.url) URL.revokeObjectURL(ui.exportBtn.dataset.url);
    const url = URL.createObjectURL(blob);
    ui.exportBtn.dataset.url = url; // kept until the next export (tests read it back)
    const link = el('a', { href: url, download: 'casebook-conversation.md', class: 'visually-hidden' });
    document.body.append(link);
    link.click();
    link.remove();
    announce('Conversation exported as Markdown.');
  }

  /* ---------- the case at a glance ---------- */

  function fetchSummary(id) {
    if (!summaryCache.has(id)) {
      const p = fetch(`/api/documents/${encodeURIComponent(id)}/summary`, { headers: { Accept: 'application/json' } })
        .then(async (res) => {
          const body = await res.json().catch(() => null);
          if (!res.ok || !body) throw new Error(body && body.error ? body.error.message : `HTTP ${res.status}`);
          return body;
        });
      summaryCache.set(id, p);
      p.catch(() => summaryCache.delete(id));
    }
    return summaryCache.get(id);
  }

  function summaryCard(summary, opener) {
    const list = el('dl', { class: 'case-items' });
    for (const [key, label] of SUMMARY_LABELS) {
      const item = summary[key];
      list.append(el('dt', { text: label }));
      if (!item || typeof item.text !== 'string') {
        list.append(el('dd', { class: 'case-missing', dataset: { field: key } }, 'Not stated in the report'));
        continue;
      }
      const text = key === 'patient' && item.sex && !/\b(wom|m)an\b|male|boy|girl/i.test(item.text)
        ? `${item.text} (${item.sex})` : item.text;
      const link = el('button', { type: 'button', class: 'case-link', dataset: { field: key },
        title: 'Show this sentence in the report' }, text);
      link.addEventListener('click', () => openSource({ document_id: summary.id, document_title: summary.title,
        start: item.start, end: item.end, section: item.section }, opener ? opener(link) : link));
      list.append(el('dd', null, link));
    }
    return list;
  }

  async function showCaseCard(id) {
    if (!id) {
      ui.caseCard.hidden = true;
      ui.caseCard.replaceChildren();
      return;
    }
    ui.caseCard.hidden = false;
    ui.caseCard.dataset.document = id;
    ui.caseCard.replaceChildren(el('h2', { id: 'case-card-title', text: 'The case at a glance' }),
      el('p', { class: 'source-loading', text: 'Reading the report…' }));
    let summary;
    try {
      summary = await fetchSummary(id);
    } catch (err) {
      ui.caseCard.hidden = true;
      return;
    }
    if (ui.caseCard.dataset.document !== id) return; // another report was selected meanwhile
    const toggle = el('button', { type: 'button', class: 'btn btn-small btn-ghost case-toggle', 'aria-expanded': 'true' }, 'Hide');
    const body = summaryCard(summary);
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') === 'true';
      toggle.setAttribute('aria-expanded', String(!open));
      toggle.textContent = open ? 'Show' : 'Hide';
      body.hidden = open;
    });
    ui.caseCard.replaceChildren(el('div', { class: 'case-head' },
      el('div', null, el('h2', { id: 'case-card-title', text: 'The case at a glance' }),
        el('p', { class: 'case-title', text: summary.title || summary.id })), toggle), body);
  }

  function currentScope() {
    return { document_id: ui.document.value, section: ui.section.value };
  }

  function submitQuestion() {
    const q = ui.question.value.trim();
    if (!q) {
      ui.question.focus();
      return;
    }
    if (pending) return;
    ui.question.value = '';
    autoGrow();
    ask(q, currentScope());
  }

  function autoGrow() {
    const t = ui.question;
    t.style.height = 'auto';
    t.style.height = `${Math.min(t.scrollHeight, 180)}px`;
  }

  /* ---------- clipboard ---------- */

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (err) {
        /* permission refused: fall through to the old way */
      }
    }
    const area = el('textarea', { class: 'clipboard-helper', readonly: true, 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (err) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  /* ---------- source view ---------- */

  function fetchDocument(id) {
    if (!docCache.has(id)) {
      const p = fetch(`/api/documents/${encodeURIComponent(id)}`, { headers: { Accept: 'application/json' } })
        .then(async (res) => {
          let body = null;
          try { body = await res.json(); } catch (err) { body = null; }
          if (!res.ok || !body || typeof body.text !== 'string') {
            const msg = body && body.error && body.error.message ? body.error.message : `HTTP ${res.status}`;
            throw new Error(msg);
          }
          return body;
        });
      docCache.set(id, p);
      p.catch(() => docCache.delete(id));
    }
    return docCache.get(id);
  }

  /** Append text[from, to) as paragraphs, wrapping the part inside [hs, he) in <mark>. */
  function appendText(container, text, from, to, hs, he, marks) {
    const re = /\n\s*\n/g;
    re.lastIndex = from;
    let start = from;
    const ranges = [];
    for (;;) {
      const m = re.exec(text);
      if (!m || m.index >= to) break;
      ranges.push([start, m.index]);
      start = m.index + m[0].length;
    }
    ranges.push([start, to]);
    for (const [ps, pe] of ranges) {
      if (!text.slice(ps, pe).trim()) continue;
      const p = el('p', { class: 'doc-para' });
      const a = Math.max(ps, hs);
      const b = Math.min(pe, he);
      if (hs < he && a < b) {
        if (a > ps) p.append(document.createTextNode(text.slice(ps, a)));
        const mark = el('mark', { class: 'source-mark', text: text.slice(a, b) });
        marks.push(mark);
        p.append(mark);
        if (b < pe) p.append(document.createTextNode(text.slice(b, pe)));
      } else {
        p.textContent = text.slice(ps, pe);
      }
      container.append(p);
    }
  }

  function renderDocument(doc, hs, he) {
    const text = doc.text;
    const sections = (Array.isArray(doc.sections) ? doc.sections : [])
      .filter((s) => Number.isInteger(s.start) && Number.isInteger(s.end) && s.start <= s.end)
      .sort((x, y) => x.start - y.start);
    const article = el('article', { class: 'doc' });
    const marks = [];
    let pos = 0;
    const seen = new Set();
    for (const sec of sections) {
      if (sec.start < pos) continue; // overlapping section: already shown
      // Text between sections usually holds the heading itself; show anything else that is there.
      const gap = text.slice(pos, sec.start);
      const heading = (sec.heading || '').trim();
      const at = heading ? gap.lastIndexOf(heading) : -1;
      const gapEnd = at >= 0 ? pos + at : sec.start;
      if (text.slice(pos, gapEnd).trim()) appendText(article, text, pos, gapEnd, hs, he, marks);
      const isCaption = sec.kind === 'caption';
      const continued = seen.has(sec.name) && !heading;
      const part = el('section', { class: `doc-section${isCaption ? ' doc-caption' : ''}`, dataset: { section: sec.name } });
      part.append(el(isCaption ? 'h4' : 'h3', { class: 'doc-heading', text: continued ? `${sec.name} (continued)` : sec.name }));
      appendText(part, text, sec.start, sec.end, hs, he, marks);
      article.append(part);
      pos = sec.end;
      seen.add(sec.name);
    }
    if (text.slice(pos).trim()) appendText(article, text, pos, text.length, hs, he, marks);
    marks.forEach((m, i) => {
      if (i === 0) m.id = 'source-highlight';
      m.classList.add('source-highlight');
    });
    return { article, marks };
  }

  async function openSource(a, opener) {
    sourceOpener = opener || null;
    ui.sourceTitle.textContent = a.document_title || a.document_id || 'Report';
    ui.sourceWhere.textContent = a.section ? `Answer highlighted in ${a.section}` : 'Answer highlighted';
    ui.sourceBody.replaceChildren(el('p', { class: 'source-loading', role: 'status', text: 'Loading the report…' }));
    if (!ui.source.open) {
      if (typeof ui.source.showModal === 'function') ui.source.showModal();
      else ui.source.setAttribute('open', '');
    }
    document.body.classList.add('source-open');
    let doc;
    try {
      doc = await fetchDocument(a.document_id);
    } catch (err) {
      ui.sourceBody.replaceChildren(el('div', { class: 'bubble bubble-error', role: 'alert' },
        el('p', { class: 'reply-title', text: 'Could not load the report' }),
        el('p', { class: 'reply-message', text: String(err && err.message ? err.message : err) })));
      return;
    }
    if (!ui.source.open) return; // closed while loading
    ui.sourceTitle.textContent = doc.title || a.document_title || doc.id;
    const { article, marks } = renderDocument(doc, a.start, a.end);
    const glance = el('details', { class: 'source-glance' }, el('summary', { text: 'The case at a glance' }));
    ui.sourceBody.replaceChildren(glance, article);
    fetchSummary(doc.id).then((summary) => {
      if (ui.source.open && document.contains(glance)) glance.append(summaryCard(summary, () => sourceOpener));
    }).catch(() => glance.remove());
    if (marks.length) {
      const target = marks[0];
      target.setAttribute('tabindex', '-1');
      window.requestAnimationFrame(() => {
        target.scrollIntoView({ block: 'center', inline: 'nearest' });
      });
      announce(`Report opened at the answer, in ${a.section || 'the report'}.`);
    }
  }

  function closeSource() {
    if (ui.source.open) {
      if (typeof ui.source.close === 'function') ui.source.close();
      else ui.source.removeAttribute('open');
    }
  }

  ui.sourceClose.addEventListener('click', closeSource);
  ui.source.addEventListener('close', () => {
    document.body.classList.remove('source-open');
    if (sourceOpener && document.contains(sourceOpener)) sourceOpener.focus();
    sourceOpener = null;
  });
  ui.source.addEventListener('click', (e) => {
    if (e.target === ui.source) closeSource(); // click on the backdrop
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && ui.source.open) {
      e.preventDefault();
      closeSource();
    }
  });

  /* ---------- wiring ---------- */

  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitQuestion();
  });
  ui.question.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitQuestion();
    }
  });
  ui.question.addEventListener('input', autoGrow);
  ui.clear.addEventListener('click', () => {
    history = [];
    saveHistory();
    try { window.sessionStorage.removeItem(STORAGE_KEY); } catch (err) { /* ignore */ }
    renderAll();
    announce('Conversation cleared.');
    ui.question.focus();
  });

  ui.exportBtn.addEventListener('click', exportConversation);
  ui.document.addEventListener('change', () => showCaseCard(ui.document.value || (documents.length === 1 ? documents[0].id : '')));

  for (const q of STARTERS) {
    const btn = el('button', { type: 'button', class: 'chip starter' }, q);
    btn.addEventListener('click', () => ask(q, currentScope()));
    ui.starters.append(el('li', null, btn));
  }

  async function loadDocuments() {
    try {
      const res = await fetch('/api/documents', { headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      const body = await res.json();
      documents = Array.isArray(body.documents) ? body.documents : [];
    } catch (err) {
      return; // the page still works without the list
    }
    const n = documents.length;
    if (n >= 2) {
      for (const d of documents) ui.document.append(el('option', { value: d.id, text: d.title || d.id }));
      ui.docFilter.hidden = false;
    }
    if (n === 1) showCaseCard(documents[0].id);
    if (n > 0) {
      ui.corpusLine.textContent = n === 1
        ? 'Answers quoted from the case report, with the exact sentence.'
        : `Answers quoted from ${n} case reports, with the exact sentence.`;
    }
  }

  renderAll();
  loadDocuments();
})();
