#pragma once

#include <QObject>
#include <QUrl>

class QSoundEffect;

namespace Herald {

// The notification sound. Machines without an audio device (CI, servers, containers) are normal: the player
// then stays silent, says so once in the log, and every call is still safe.
class SoundPlayer : public QObject
{
    Q_OBJECT

public:
    static QUrl defaultSource();

    explicit SoundPlayer(const QUrl &source = defaultSource(), QObject *parent = nullptr);
    ~SoundPlayer() override;

    // An audio output exists and the sound loaded (or is still loading).
    bool isAvailable() const { return m_effect != nullptr && !m_failed; }
    bool isMuted() const { return m_muted; }
    void setMuted(bool muted);
    double volume() const { return m_volume; }
    void setVolume(double volume);

    // Plays the sound unless muted. Returns true if it went to an audio device.
    bool play();
    // Every play() call while not muted, whether or not a device could play it.
    int requestCount() const { return m_requests; }
    int playCount() const { return m_plays; }

Q_SIGNALS:
    void mutedChanged(bool muted);
    void played();

private:
    QSoundEffect *m_effect = nullptr;
    bool m_muted = false;
    bool m_failed = false;
    double m_volume = 0.8;
    int m_requests = 0;
    int m_plays = 0;
};

} // namespace Herald
