/**
 * English stop words left out of CMI keywords. Only words longer than 3 characters can reach the
 * keyword list, so shorter ones are not listed: the NLTK/Snowball English set plus common fillers.
 */
// biome-ignore format: a word list reads better packed
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'about', 'above', 'after', 'again', 'against', 'aren', 'because', 'been', 'before', 'being', 'below',
  'between', 'both', 'cannot', 'could', 'couldn', 'didn', 'does', 'doesn', 'doing', 'down', 'during',
  'each', 'from', 'further', 'hadn', 'hasn', 'have', 'haven', 'having', 'here', 'hers', 'herself',
  'himself', 'into', 'itself', 'just', 'mightn', 'more', 'most', 'mustn', 'myself', 'needn', 'once',
  'only', 'other', 'ours', 'ourselves', 'over', 'same', 'shan', 'shall', 'should', 'shouldn', 'some',
  'such', 'than', 'that', 'their', 'theirs', 'them', 'themselves', 'then', 'there', 'these', 'they',
  'this', 'those', 'through', 'under', 'until', 'very', 'wasn', 'were', 'weren', 'what', 'when', 'where',
  'which', 'while', 'whom', 'will', 'with', 'would', 'wouldn', 'your', 'yours', 'yourself', 'yourselves',
  'also', 'among', 'another', 'anyone', 'anything', 'around', 'away', 'came', 'come', 'done', 'either',
  'else', 'even', 'ever', 'every', 'going', 'like', 'made', 'make', 'many', 'might', 'much', 'must',
  'never', 'none', 'often', 'onto', 'perhaps', 'quite', 'rather', 'really', 'said', 'says', 'since',
  'still', 'take', 'thus', 'together', 'upon', 'using', 'want', 'well', 'went', 'whether', 'whose',
  'within', 'without', 'across', 'already', 'although', 'always', 'become', 'becomes', 'besides', 'beyond',
  'cant', 'dont', 'doesnt', 'didnt', 'isnt', 'wasnt', 'wont', 'youre', 'theyre', 'thats', 'whats',
]);
