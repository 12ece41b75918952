import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError } from '../../lib/errors.js';
import { escapeHtml, parseMerge, renderMerge } from '../../lib/merge.js';
import { publicUrls } from '../../lib/urls.js';
import { findNewsletterById } from '../newsletters/repository.js';
import { renderPost } from '../posts/email.js';
import { neutralValues } from '../posts/publishing.js';
import { sanitiseCss } from './css-sanitiser.js';
import { createLogoStore, prepareLogo } from './logo.js';
import { findPreviewPost, saveDesign, saveLogo } from './repository.js';
import type { DesignInput } from './schemas.js';
import { brandOf, type Brand } from './themes.js';

/** What the sanitiser took out of each stylesheet, for the page to tell the writer. */
export type RemovedCss = { web_css: string[]; email_css: string[] };

export interface DesignPreview {
  brand: Brand;
  /** The post the preview shows, or a sample when the newsletter has none yet. */
  sample: boolean;
  subject: string;
  /** The archive page's body and the full email, merge fields filled with neutral values. */
  bodyHtml: string;
  emailHtml: string;
  removed: RemovedCss;
}

const SAMPLE_POST = {
  subject: 'A sample issue',
  preheader: '',
  body: [
    'This is how your posts look with this design. Here is [a link](https://example.com) in your accent colour.',
    '',
    '## A heading',
    '',
    '> A quotation, set apart from the text.',
    '',
    '- A list item',
    '- Another one',
  ].join('\n'),
};

/** The writer's design with its CSS sanitised, and what was taken out. */
function cleaned(input: DesignInput): { design: DesignInput; removed: RemovedCss } {
  const web = sanitiseCss(input.web_css);
  const email = sanitiseCss(input.email_css);
  return { design: { ...input, web_css: web.css, email_css: email.css }, removed: { web_css: web.removed, email_css: email.removed } };
}

export function createDesignService(deps: { db: Db; clock: Clock; config: Config }) {
  const { db, clock, config } = deps;
  const logos = createLogoStore(config.dataDir);
  const urls = publicUrls(config.baseUrl);

  async function preview(newsletter: NewsletterRow, input: DesignInput): Promise<DesignPreview> {
    const { design, removed } = cleaned(input);
    const designed = { ...newsletter, ...design };
    const post = (await findPreviewPost(db, newsletter.id)) ?? SAMPLE_POST;
    const rendered = await renderPost(post, designed, config.baseUrl);
    const home = urls.home(newsletter.slug);
    const values = neutralValues(newsletter, post, home, home);
    const fill = (s: string) => renderMerge(parseMerge(s).segments, values, escapeHtml);
    return {
      brand: brandOf(designed),
      sample: post === SAMPLE_POST,
      subject: renderMerge(parseMerge(rendered.subject).segments, values),
      bodyHtml: fill(rendered.bodyHtml),
      emailHtml: fill(rendered.html),
      removed,
    };
  }

  return {
    async newsletter(id: number): Promise<NewsletterRow> {
      const n = await findNewsletterById(db, id);
      if (!n) throw new NotFoundError('That newsletter does not exist.');
      return n;
    },

    preview,

    /** Saves the design with its CSS sanitised; answers what the sanitiser removed. */
    async save(newsletterId: number, input: DesignInput): Promise<RemovedCss> {
      const { design, removed } = cleaned(input);
      await saveDesign(db, newsletterId, design, clock.now());
      return removed;
    },

    /**
     * Checks, re-encodes and stores a logo, then points the newsletter at it. Files are never deleted:
     * they are named by their content, and mail already sent goes on linking the logo it was sent with.
     */
    async uploadLogo(newsletterId: number, bytes: Buffer): Promise<void> {
      const logo = await prepareLogo(bytes);
      await logos.save(logo);
      await saveLogo(db, newsletterId, logo, clock.now());
    },

    removeLogo: (newsletterId: number) => saveLogo(db, newsletterId, null, clock.now()),

    readFile: (file: string) => logos.read(file),
  };
}

export type DesignService = ReturnType<typeof createDesignService>;
