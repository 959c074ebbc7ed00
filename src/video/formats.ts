/** Container extensions a video folder dataset takes by default (what Debian's ffmpeg demuxes). */
export const DEFAULT_VIDEO_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ogv', '.flv', '.ts'];
