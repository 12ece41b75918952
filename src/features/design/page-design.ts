import { brandOf, webBrandCss, type Brand, type DesignSource } from './themes.js';

/** What a branded reader page hands its layout (views/layouts/base.eta includes views/design/_*.eta). */
export interface PageDesign {
  brand: Brand;
  css: string;
  homeUrl: string;
}

/** Reader pages link the logo from their own origin (relative URLs) unless given the server's address. */
export function pageDesign(newsletter: DesignSource, homeUrl: string, baseUrl = ''): PageDesign {
  const brand = brandOf(newsletter, baseUrl);
  return { brand, css: webBrandCss(brand), homeUrl };
}
